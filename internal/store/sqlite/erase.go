package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// erasedScanner scans a row of eventCols followed by erased_at.
type erasedScanner struct {
	r      scanner
	erased *sql.NullInt64
}

func (e erasedScanner) Scan(dest ...any) error { return e.r.Scan(append(dest, e.erased)...) }

// scanErasedEvent reads a row of eventCols + ", erased_at".
func scanErasedEvent(r scanner) (*store.Event, error) {
	var erased sql.NullInt64
	ev, err := scanEvent(erasedScanner{r, &erased})
	if err != nil {
		return nil, err
	}
	if erased.Valid {
		t := fromMS(erased.Int64)
		ev.ErasedAt = &t
	}
	return ev, nil
}

// EraseEvent erases the event's content in one transaction (see
// store.Erasure).
func (s *Store) EraseEvent(ctx context.Context, id string, at time.Time) (*store.Event, error) {
	var ev *store.Event
	err := s.write(ctx, func(w *writer) error {
		n, err := w.erase(id, at)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		ev, err = scanErasedEvent(w.queryRow(`SELECT `+eventCols+`, erased_at FROM events WHERE id = ?`, id))
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
		err := s.write(ctx, func(w *writer) error {
			done = 0
			rows, err := w.query(`SELECT id FROM events INDEXED BY events_tenant_created
				WHERE tenant = ? AND created_at < ? AND erased_at IS NULL ORDER BY created_at, id LIMIT ?`,
				p.Tenant, ms(p.Before), batch)
			if err != nil {
				return err
			}
			var ids []string
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, id := range ids {
				if _, err := w.erase(id, p.Now); err != nil {
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

// erase erases one event within the writer's transaction and returns
// how many events it found (0 or 1).
func (w *writer) erase(id string, at time.Time) (int64, error) {
	n, err := w.exec(`UPDATE events SET payload = '', headers = NULL, erased_at = COALESCE(erased_at, ?) WHERE id = ?`, ms(at), id)
	if err != nil || n == 0 {
		return n, err
	}
	if _, err := w.exec(`DELETE FROM event_fields WHERE event_id = ?`, id); err != nil {
		return 0, err
	}
	if _, err := w.exec(`UPDATE attempts SET request_headers = '{}', response_body = NULL
		WHERE delivery_id IN (SELECT id FROM deliveries INDEXED BY deliveries_event WHERE event_id = ?)`, id); err != nil {
		return 0, err
	}
	rows, err := w.query(`SELECT DISTINCT endpoint_id FROM deliveries INDEXED BY deliveries_event
		WHERE event_id = ? AND status = 'pending' AND fifo = 1`, id)
	if err != nil {
		return 0, err
	}
	var fifo []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			rows.Close()
			return 0, err
		}
		fifo = append(fifo, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if _, err := w.exec(`UPDATE deliveries SET status = 'canceled', hold = 0, leased_until = NULL,
		updated_at = ?, completed_at = ? WHERE event_id = ? AND status = 'pending'`, ms(at), ms(at), id); err != nil {
		return 0, err
	}
	// The canceled delivery may have been a FIFO endpoint's head: the
	// next one takes its place.
	for _, endpointID := range fifo {
		e, err := w.endpoint(endpointID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if err := w.rehold(endpointID, e.Disabled, e.FIFO, at); err != nil {
			return 0, err
		}
	}
	return n, nil
}
