package sqlite

import (
	"context"
	"fmt"
	"math"

	"github.com/hookrelay/hookrelay/internal/store"
)

// missingQuery walks the events of a tenant in a window, after a cursor,
// that have no delivery to an endpoint.
const missingQuery = `SELECT ` + eventCols + ` FROM events e INDEXED BY events_tenant_created
	WHERE tenant = ? AND created_at >= ? AND created_at < ? AND (created_at, id) > (?, ?)
	AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.endpoint_id = ?)
	ORDER BY created_at, id LIMIT ?`

// ReplayMissing creates the deliveries an endpoint missed, one batch in
// one transaction of the writer (see store.Replays).
func (s *Store) ReplayMissing(ctx context.Context, p store.ReplayMissingParams) (store.ReplayMissingResult, error) {
	afterMS, afterID, ok := store.ParseReplayCursor(p.After)
	if !ok {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing: malformed cursor %q", p.After)
	}
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultReplayMissingBatch
	}
	until := int64(math.MaxInt64)
	if !p.Until.IsZero() {
		until = ms(p.Until)
	}
	narrow := &store.Endpoint{EventTypes: p.EventTypes}
	now := ms(p.Now)
	var res store.ReplayMissingResult
	err := s.write(ctx, func(w *writer) error {
		res = store.ReplayMissingResult{}
		e, err := w.endpoint(p.EndpointID)
		if err != nil {
			return err
		}
		rows, err := w.query(missingQuery, e.Tenant, ms(p.Since), until, afterMS, afterID, e.ID, batch)
		if err != nil {
			return err
		}
		evs, err := store.CollectRows(rows, scanEvent)
		rows.Close()
		if err != nil {
			return err
		}
		res.Scanned = len(evs)
		if len(evs) == batch {
			last := evs[len(evs)-1]
			res.Next = store.ReplayCursor(ms(last.CreatedAt), last.ID)
		}
		hold := boolInt(e.Disabled || e.FIFO)
		for _, ev := range evs {
			if !store.Matches(e, ev) || !narrow.Accepts(ev.Type) {
				continue
			}
			if _, err := w.exec(`INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
				next_attempt_at, leased_until, claim, hold, fifo, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, NULL, 0, ?, ?, ?, ?)`,
				w.ids.next("dlv"), ev.ID, e.ID, e.Tenant, ev.Type, now, hold, boolInt(e.FIFO), now, now); err != nil {
				return err
			}
			res.Created++
		}
		if res.Created > 0 && e.FIFO && !e.Disabled {
			return w.rehold(e.ID, false, true, p.Now)
		}
		return nil
	})
	if err != nil {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing events of %s: %w", p.EndpointID, err)
	}
	return res, nil
}
