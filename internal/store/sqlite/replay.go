package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The queries of ReplayMissing walk a batch of the events of a tenant in
// a window, from its start or after a cursor, each with whether it has a
// delivery to the endpoint. A batch looks at a bounded number of events
// whatever their deliveries, so that the writer is never held for long (a
// filter on the missing ones before the LIMIT would walk a whole window
// of delivered events in one transaction); the cursor is the only lower
// bound after the first batch, so that each batch seeks straight to it.
const (
	missingCols       = eventCols + `, EXISTS (SELECT 1 FROM deliveries d INDEXED BY deliveries_event WHERE d.event_id = e.id AND d.endpoint_id = ?)`
	missingFirstQuery = `SELECT ` + missingCols + ` FROM events e INDEXED BY events_tenant_created
		WHERE tenant = ? AND created_at >= ? AND created_at < ? AND erased_at IS NULL ORDER BY created_at, id LIMIT ?`
	missingNextQuery = `SELECT ` + missingCols + ` FROM events e INDEXED BY events_tenant_created
		WHERE tenant = ? AND (created_at, id) > (?, ?) AND created_at < ? AND erased_at IS NULL ORDER BY created_at, id LIMIT ?`
)

// scanMissing reads a row of missingCols: an event and whether it has a
// delivery to the endpoint.
func scanMissing(r scanner) (store.ReplayCandidate, error) {
	var (
		ev        store.Event
		key       sql.NullString
		created   int64
		headers   sql.NullString
		delivered int64
	)
	if err := r.Scan(&ev.ID, &ev.Tenant, &ev.Type, &ev.Payload, &key, &created, &ev.ContentType, &headers, &ev.TraceParent, &delivered); err != nil {
		return store.ReplayCandidate{}, interpretError(err)
	}
	if err := store.DecodeEventHeaders(headers.String, &ev.Headers); err != nil {
		return store.ReplayCandidate{}, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	if ev.Payload == nil {
		ev.Payload = []byte{}
	}
	ev.IdempotencyKey = key.String
	ev.CreatedAt = fromMS(created)
	return store.ReplayCandidate{Event: &ev, Delivered: delivered != 0}, nil
}

// ReplayMissing creates the deliveries an endpoint missed, one batch in
// one transaction of the writer (see store.Replays).
func (s *Store) ReplayMissing(ctx context.Context, p store.ReplayMissingParams) (store.ReplayMissingResult, error) {
	if _, _, ok := store.ParseReplayCursor(p.After); !ok {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing: malformed cursor %q", p.After)
	}
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultReplayMissingBatch
	}
	var res store.ReplayMissingResult
	err := s.write(ctx, func(w *writer) error {
		var err error
		res, err = w.replayMissing(p, batch, false)
		return err
	})
	if err != nil {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing events of %s: %w", p.EndpointID, err)
	}
	return res, nil
}

// replayMissing runs one ReplayMissing batch on the writer. With
// skipDisabled a disabled endpoint gets nothing: its window is done.
func (w *writer) replayMissing(p store.ReplayMissingParams, batch int, skipDisabled bool) (store.ReplayMissingResult, error) {
	afterMS, afterID, ok := store.ParseReplayCursor(p.After)
	if !ok {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing: malformed cursor %q", p.After)
	}
	until := int64(math.MaxInt64)
	if !p.Until.IsZero() {
		until = ms(p.Until)
	}
	now := ms(p.Now)
	e, err := w.endpoint(p.EndpointID)
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	if skipDisabled && e.Disabled {
		return store.ReplayMissingResult{}, nil
	}
	q, args := missingFirstQuery, []any{e.ID, e.Tenant, ms(p.Since), until, batch}
	if p.After != "" {
		q, args = missingNextQuery, []any{e.ID, e.Tenant, afterMS, afterID, until, batch}
	}
	rows, err := w.query(q, args...)
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	looked, err := store.CollectRows(rows, scanMissing)
	rows.Close()
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	res, due := store.PlanReplay(e, p.EventTypes, batch, looked, &w.s.filters)
	hold := boolInt(e.Disabled || e.FIFO)
	for _, ev := range due {
		if _, err := w.exec(`INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
			next_attempt_at, leased_until, claim, hold, fifo, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, NULL, 0, ?, ?, ?, ?)`,
			w.ids.next("dlv"), ev.ID, e.ID, e.Tenant, ev.Type, now, hold, boolInt(e.FIFO), now, now); err != nil {
			return store.ReplayMissingResult{}, err
		}
		res.Created++
	}
	if res.Created > 0 && e.FIFO && !e.Disabled {
		if err := w.rehold(e.ID, false, true, p.Now); err != nil {
			return store.ReplayMissingResult{}, err
		}
	}
	return res, nil
}
