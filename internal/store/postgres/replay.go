package postgres

import (
	"context"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The queries of ReplayMissing walk a batch of the events of a tenant in
// a window, from its start or after a cursor, each with whether it has a
// delivery to the endpoint: a batch looks at a bounded number of events
// whatever their deliveries (see the SQLite store's), and after the first
// the cursor alone bounds it from below, so that it seeks to it.
const (
	missingCols       = eventCols + `, EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.endpoint_id = $1)`
	missingFirstQuery = `SELECT ` + missingCols + ` FROM events e
		WHERE tenant = $2 AND created_at >= $3 AND created_at < $4 AND erased_at IS NULL ORDER BY created_at, id LIMIT $5`
	missingNextQuery = `SELECT ` + missingCols + ` FROM events e
		WHERE tenant = $2 AND (created_at, id) > ($3, $4) AND created_at < $5 AND erased_at IS NULL ORDER BY created_at, id LIMIT $6`
)

// scanMissing reads a row of missingCols: an event and whether it has a
// delivery to the endpoint.
func scanMissing(r store.RowScanner) (store.ReplayCandidate, error) {
	var (
		ev        store.Event
		key       *string
		created   int64
		headers   *string
		delivered bool
	)
	if err := r.Scan(&ev.ID, &ev.Tenant, &ev.Type, &ev.Payload, &key, &created, &ev.ContentType, &headers, &ev.TraceParent, &delivered); err != nil {
		return store.ReplayCandidate{}, interpretError(err)
	}
	if headers != nil {
		if err := store.DecodeEventHeaders(*headers, &ev.Headers); err != nil {
			return store.ReplayCandidate{}, fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	if ev.Payload == nil {
		ev.Payload = []byte{}
	}
	if key != nil {
		ev.IdempotencyKey = *key
	}
	ev.CreatedAt = fromMS(created)
	return store.ReplayCandidate{Event: &ev, Delivered: delivered}, nil
}

// ReplayMissing creates the deliveries an endpoint missed, one batch in
// one transaction (see store.Replays). It holds the endpoint's locks, as
// UpdateEndpoint does, so that concurrent calls for the endpoint take
// turns: the second sees the deliveries the first created. An event
// accepted meanwhile commits with its own deliveries, so it is either
// invisible here or has its delivery already.
func (s *Store) ReplayMissing(ctx context.Context, p store.ReplayMissingParams) (store.ReplayMissingResult, error) {
	if _, _, ok := store.ParseReplayCursor(p.After); !ok {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing: malformed cursor %q", p.After)
	}
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultReplayMissingBatch
	}
	var res store.ReplayMissingResult
	err := s.retryMoved(ctx, func(tx pgx.Tx) error {
		var err error
		res, err = s.replayMissing(ctx, tx, p, batch, false)
		return err
	})
	if err != nil {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing events of %s: %w", p.EndpointID, err)
	}
	return res, nil
}

// replayMissing runs one ReplayMissing batch in tx, under the endpoint's
// locks. With skipDisabled a disabled endpoint gets nothing: its window is
// done.
func (s *Store) replayMissing(ctx context.Context, tx pgx.Tx, p store.ReplayMissingParams, batch int, skipDisabled bool) (store.ReplayMissingResult, error) {
	afterMS, afterID, ok := store.ParseReplayCursor(p.After)
	if !ok {
		return store.ReplayMissingResult{}, fmt.Errorf("replay missing: malformed cursor %q", p.After)
	}
	until := int64(math.MaxInt64)
	if !p.Until.IsZero() {
		until = ms(p.Until)
	}
	now := ms(p.Now)
	disabled, fifo, err := lockEndpointForWrite(ctx, tx, p.EndpointID, nil)
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	if skipDisabled && disabled {
		return store.ReplayMissingResult{}, nil
	}
	e, err := s.scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = $1`, p.EndpointID))
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	q, args := missingFirstQuery, []any{e.ID, e.Tenant, ms(p.Since), until, batch}
	if p.After != "" {
		q, args = missingNextQuery, []any{e.ID, e.Tenant, afterMS, afterID, until, batch}
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	looked, err := store.CollectRows(rows, scanMissing)
	rows.Close()
	if err != nil {
		return store.ReplayMissingResult{}, err
	}
	res, due := store.PlanReplay(e, p.EventTypes, batch, looked, &s.filters)
	var ids, eventIDs, types []string
	for _, ev := range due {
		ids = append(ids, s.ids.next("dlv"))
		eventIDs = append(eventIDs, ev.ID)
		types = append(types, ev.Type)
	}
	res.Created = len(ids)
	if len(ids) == 0 {
		return res, nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
			next_attempt_at, hold, fifo, created_at, updated_at)
		SELECT d.id, d.event_id, $1, $2, d.event_type, 'pending', $3, $4, $5, $3, $3
		FROM unnest($6::text[], $7::text[], $8::text[]) AS d(id, event_id, event_type)`,
		e.ID, e.Tenant, now, disabled || fifo, fifo, ids, eventIDs, types); err != nil {
		return store.ReplayMissingResult{}, interpretError(err)
	}
	if fifo && !disabled {
		if err := rehold(ctx, tx, e.ID, false, true, p.Now); err != nil {
			return store.ReplayMissingResult{}, err
		}
	}
	return res, nil
}
