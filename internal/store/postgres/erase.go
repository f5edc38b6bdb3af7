package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// erasedScanner scans a row of eventCols followed by erased_at.
type erasedScanner struct {
	r      store.RowScanner
	erased **int64
}

func (e erasedScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.erased)...) }

// scanErasedEvent reads a row of eventCols + ", erased_at".
func scanErasedEvent(r store.RowScanner) (*store.Event, error) {
	var erased *int64
	ev, err := scanEvent(erasedScanner{r, &erased})
	if err != nil {
		return nil, err
	}
	if erased != nil {
		t := fromMS(*erased)
		ev.ErasedAt = &t
	}
	return ev, nil
}

// EraseEvent erases the event's content in one transaction (see
// store.Erasure).
func (s *Store) EraseEvent(ctx context.Context, id string, at time.Time) (*store.Event, error) {
	var ev *store.Event
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		n, err := erase(ctx, tx, []string{id}, at)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		ev, err = scanErasedEvent(tx.QueryRow(ctx, `SELECT `+eventCols+`, erased_at FROM events WHERE id = $1`, id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("erase event %s: %w", id, err)
	}
	return ev, nil
}

// ErasePayloads erases a tenant's events created before p.Before, one
// batch per transaction (see store.Erasure).
func (s *Store) ErasePayloads(ctx context.Context, p store.ErasePayloadsParams) (int64, error) {
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultEraseBatch
	}
	var total int64
	for {
		var done int
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			done = 0
			rows, err := tx.Query(ctx, `SELECT id FROM events
				WHERE tenant = $1 AND created_at < $2 AND erased_at IS NULL ORDER BY created_at, id LIMIT $3`,
				p.Tenant, ms(p.Before), batch)
			if err != nil {
				return err
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			if _, err := erase(ctx, tx, ids, p.Now); err != nil {
				return err
			}
			done = len(ids)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("erase payloads of tenant %q: %w", p.Tenant, err)
		}
		total += int64(done)
		if done < batch {
			return total, nil
		}
	}
}

// erase erases the events of ids within tx and returns how many exist.
// It takes, before writing, the shared fan-out locks of their tenants
// (which ReplayMissing takes exclusively, so that it neither runs
// meanwhile nor finds them unerased after) and then, in one call, the
// endpoint locks of their deliveries (which RetryDelivery and ReplayFailed
// take, so that neither makes one of their deliveries pending again once
// they are erased), keeping lockAll's global order.
func erase(ctx context.Context, tx pgx.Tx, ids []string, at time.Time) (int64, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT tenant FROM events WHERE id = ANY($1)`, ids)
	if err != nil {
		return 0, err
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tenants) == 0 {
		return 0, err
	}
	var locks []xlock
	for _, t := range tenants {
		locks = append(locks, tenantLock(t, true))
	}
	if err := lockAll(ctx, tx, locks); err != nil {
		return 0, err
	}
	rows, err = tx.Query(ctx, `SELECT DISTINCT endpoint_id FROM deliveries WHERE event_id = ANY($1)`, ids)
	if err != nil {
		return 0, err
	}
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	locks = locks[:0]
	for _, e := range endpoints {
		locks = append(locks, endpointLock(e))
	}
	if err := lockAll(ctx, tx, locks); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `UPDATE events SET payload = ''::bytea, headers = NULL, erased_at = COALESCE(erased_at, $1)
		WHERE id = ANY($2)`, ms(at), ids)
	if err != nil || tag.RowsAffected() == 0 {
		return 0, err
	}
	n := tag.RowsAffected()
	if _, err := tx.Exec(ctx, `DELETE FROM event_fields WHERE event_id = ANY($1)`, ids); err != nil {
		return 0, err
	}
	if _, err := tx.Exec(ctx, `UPDATE attempts SET request_headers = '{}', response_body = NULL
		WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = ANY($1))`, ids); err != nil {
		return 0, err
	}
	rows, err = tx.Query(ctx, `UPDATE deliveries SET status = 'canceled', hold = false, leased_until = NULL,
		updated_at = $1, completed_at = $1 WHERE event_id = ANY($2) AND status = 'pending' RETURNING endpoint_id, fifo`, ms(at), ids)
	if err != nil {
		return 0, err
	}
	fifo := map[string]bool{}
	for rows.Next() {
		var (
			endpoint string
			isFIFO   bool
		)
		if err := rows.Scan(&endpoint, &isFIFO); err != nil {
			rows.Close()
			return 0, err
		}
		if isFIFO {
			fifo[endpoint] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	// A canceled delivery may have been a FIFO endpoint's head: the next
	// one takes its place.
	for _, endpointID := range slices.Sorted(maps.Keys(fifo)) {
		var disabled, isFIFO bool
		err := tx.QueryRow(ctx, `SELECT disabled, fifo FROM endpoints WHERE id = $1`, endpointID).Scan(&disabled, &isFIFO)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := rehold(ctx, tx, endpointID, disabled, isFIFO, at); err != nil {
			return 0, err
		}
	}
	return n, nil
}
