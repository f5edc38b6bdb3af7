package postgres

import (
	"context"
	"errors"
	"fmt"
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
		found, err := erase(ctx, tx, id, at)
		if err != nil {
			return err
		}
		if !found {
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
			for _, id := range ids {
				if _, err := erase(ctx, tx, id, p.Now); err != nil {
					return err
				}
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

// erase erases one event within tx and reports whether it exists. It
// takes the endpoint locks of the event's deliveries before the event's
// row, in the order RetryDelivery and ReplayFailed take them, so that
// neither makes a delivery of it pending again once it is erased.
func erase(ctx context.Context, tx pgx.Tx, id string, at time.Time) (bool, error) {
	rows, err := tx.Query(ctx, `SELECT DISTINCT endpoint_id FROM deliveries WHERE event_id = $1`, id)
	if err != nil {
		return false, err
	}
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, err
	}
	locks := make([]xlock, len(endpoints))
	for i, e := range endpoints {
		locks[i] = endpointLock(e)
	}
	if err := lockAll(ctx, tx, locks); err != nil {
		return false, err
	}
	tag, err := tx.Exec(ctx, `UPDATE events SET payload = ''::bytea, headers = NULL, erased_at = COALESCE(erased_at, $1)
		WHERE id = $2`, ms(at), id)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE attempts SET request_headers = '{}', response_body = NULL
		WHERE delivery_id IN (SELECT id FROM deliveries WHERE event_id = $1)`, id); err != nil {
		return false, err
	}
	rows, err = tx.Query(ctx, `UPDATE deliveries SET status = 'canceled', hold = false, leased_until = NULL,
		updated_at = $1, completed_at = $1 WHERE event_id = $2 AND status = 'pending' RETURNING endpoint_id, fifo`, ms(at), id)
	if err != nil {
		return false, err
	}
	type canceled struct {
		endpoint string
		fifo     bool
	}
	var fifo []string
	for rows.Next() {
		var c canceled
		if err := rows.Scan(&c.endpoint, &c.fifo); err != nil {
			rows.Close()
			return false, err
		}
		if c.fifo {
			fifo = append(fifo, c.endpoint)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	// A canceled delivery may have been a FIFO endpoint's head: the next
	// one takes its place.
	for _, endpointID := range fifo {
		var disabled, isFIFO bool
		err := tx.QueryRow(ctx, `SELECT disabled, fifo FROM endpoints WHERE id = $1`, endpointID).Scan(&disabled, &isFIFO)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return false, err
		}
		if err := rehold(ctx, tx, endpointID, disabled, isFIFO, at); err != nil {
			return false, err
		}
	}
	return true, nil
}
