package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const eventCols = `id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers, traceparent`

func scanEvent(r scanner) (*store.Event, error) {
	var (
		ev      store.Event
		key     sql.NullString
		created int64
		headers sql.NullString
	)
	if err := r.Scan(&ev.ID, &ev.Tenant, &ev.Type, &ev.Payload, &key, &created, &ev.ContentType, &headers, &ev.TraceParent); err != nil {
		return nil, interpretError(err)
	}
	if err := store.DecodeEventHeaders(headers.String, &ev.Headers); err != nil {
		return nil, fmt.Errorf("event %s: %w", ev.ID, err)
	}
	if ev.Payload == nil {
		ev.Payload = []byte{}
	}
	ev.IdempotencyKey = key.String
	ev.CreatedAt = fromMS(created)
	return &ev, nil
}

// CreateEvent durably stores ev and one pending delivery, due at
// ev.CreatedAt, for each enabled endpoint of ev.Tenant that Accepts ev.Type
// and whose payload filter ev.Payload matches, in one transaction, and returns the deliveries. An empty ev.ID is
// generated and a zero ev.CreatedAt is now; the returned event has them. If
// ev.IdempotencyKey is set and the tenant has an event with the same key
// created after idempotentSince, nothing is written and the earlier event is
// returned with ErrConflict. It returns once the transaction is committed.
func (s *Store) CreateEvent(ctx context.Context, ev *store.Event, idempotentSince time.Time) (*store.Event, []*store.Delivery, error) {
	return s.createEvent(ctx, ev, idempotentSince, nil)
}

// createEvent is CreateEvent, and with only set CreateEventFor: the
// deliveries go to the enabled endpoints of the tenant listed in only,
// whatever their filters.
func (s *Store) createEvent(ctx context.Context, ev *store.Event, idempotentSince time.Time, only []string) (*store.Event, []*store.Delivery, error) {
	var res []store.EventResult
	err := s.createEvents(ctx, []*store.Event{ev}, idempotentSince, only, func(r []store.EventResult) { res = r })
	if err != nil {
		return nil, nil, fmt.Errorf("create event: %w", err)
	}
	r := res[0]
	if r.Err != nil {
		return r.Event, nil, fmt.Errorf("create event: %w", r.Err)
	}
	return r.Event, r.Deliveries, nil
}

// CreateEvents is CreateEvent for each event of evs, in one transaction;
// see store.Store.
func (s *Store) CreateEvents(ctx context.Context, evs []*store.Event, idempotentSince time.Time) ([]store.EventResult, error) {
	var res []store.EventResult
	if err := s.createEvents(ctx, evs, idempotentSince, nil, func(r []store.EventResult) { res = r }); err != nil {
		return nil, fmt.Errorf("create %d events: %w", len(evs), err)
	}
	return res, nil
}

// createEvents stores evs in one transaction, and once it is committed
// hands its results to done. Only one event's idempotency conflict is a
// result; any other error is the call's.
func (s *Store) createEvents(ctx context.Context, evs []*store.Event, idempotentSince time.Time, only []string, done func([]store.EventResult)) error {
	es := make([]store.Event, len(evs))
	headers := make([]any, len(evs))
	for i, ev := range evs {
		e := store.Accepted(ev)
		if len(e.Headers) > 0 {
			h, err := store.EncodeEventHeaders(e.Headers)
			if err != nil {
				return err
			}
			headers[i] = h
		}
		es[i] = e
	}
	dc := s.dispatch.Load()
	var (
		res       []store.EventResult
		jobs      []*store.Job
		claimedAt time.Time
	)
	err := s.write(ctx, func(w *writer) error {
		res, jobs, claimedAt = make([]store.EventResult, len(es)), jobs[:0], time.Now()
		// The dispatcher's Admits answers for one delivery, before the
		// ones of this transaction are dispatched: ask it once per
		// endpoint, and leave the endpoint's other deliveries of the batch
		// to the engine's claims, lest it be handed more than it takes
		// (those it did not take would wait for their leases to run out).
		asked := map[string]bool{}
		rows := newInsertRows()
		for i := range es {
			e := es[i]
			earlier, out, js, err := s.insertEvent(w, rows, &e, headers[i], ms(idempotentSince), only, dc, asked, claimedAt)
			if err != nil && earlier == nil {
				return err
			}
			if err != nil {
				res[i] = store.EventResult{Event: earlier, Err: err}
				continue
			}
			ev := e
			for _, j := range js {
				j.Event = ev
			}
			res[i] = store.EventResult{Event: &ev, Deliveries: out}
			jobs = append(jobs, js...)
		}
		return rows.flush(w)
	})
	if err != nil {
		return err
	}
	if len(jobs) > 0 {
		dc.d.Dispatch(jobs, claimedAt)
	}
	done(res)
	return nil
}

// insertEvent writes e (its ID set if empty), its idempotency key and its
// deliveries, and returns the deliveries and the jobs claimed at creation.
// If e's key is in use since since, it writes nothing and returns the
// earlier event with ErrConflict.
func (s *Store) insertEvent(w *writer, rows *insertRows, e *store.Event, headers any, since int64, only []string, dc *dispatchConfig, asked map[string]bool, claimedAt time.Time) (*store.Event, []*store.Delivery, []*store.Job, error) {
	var (
		created = ms(e.CreatedAt)
		out     []*store.Delivery
		jobs    []*store.Job
	)
	if e.IdempotencyKey != "" {
		var (
			prevID string
			prevAt int64
		)
		err := w.queryRow(`SELECT event_id, created_at FROM idempotency_keys WHERE tenant = ? AND idempotency_key = ?`,
			e.Tenant, e.IdempotencyKey).Scan(&prevID, &prevAt)
		switch {
		case err == nil && prevAt > since:
			if err := rows.flush(w); err != nil { // the earlier event may be of this batch
				return nil, nil, nil, err
			}
			prev, err := scanEvent(w.queryRow(`SELECT `+eventCols+` FROM events WHERE id = ?`, prevID))
			if err != nil {
				return nil, nil, nil, fmt.Errorf("earlier event %s: %w", prevID, err)
			}
			return prev, nil, nil, fmt.Errorf("%w: idempotency key %q is used by event %s", store.ErrConflict, e.IdempotencyKey, prevID)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return nil, nil, nil, err
		}
	}
	if e.ID == "" {
		e.ID = w.ids.next("evt")
	}
	id := e.ID
	if err := rows.event(w, id, e.Tenant, e.Type, string(e.Payload), nullString(e.IdempotencyKey), created, e.ContentType, headers, e.TraceParent); err != nil {
		return nil, nil, nil, err
	}
	for _, f := range store.PayloadFields(e.Payload, w.s.searchPaths) {
		if err := rows.field(w, id, f.Path, f.Key, created); err != nil {
			return nil, nil, nil, fmt.Errorf("index field %s of event %s: %w", f.Path, id, err)
		}
	}
	if e.IdempotencyKey != "" {
		if _, err := w.exec(`INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (tenant, idempotency_key)
			DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`,
			e.Tenant, e.IdempotencyKey, id, created); err != nil {
			return nil, nil, nil, err
		}
	}
	targets, err := w.targets(e.Tenant)
	if err != nil {
		return nil, nil, nil, err
	}
	if only != nil {
		if targets = chosen(targets, only); len(targets) == 0 {
			return nil, nil, nil, fmt.Errorf("%w: none of endpoints %v is an enabled endpoint of tenant %q", store.ErrNotFound, only, e.Tenant)
		}
	}
	match := s.filters.ForEvent(e.Payload)
	for _, t := range targets {
		if only == nil && !store.Matches(t, e, match) {
			continue
		}
		hold := int64(0)
		if t.FIFO {
			// The head may be a delivery of this batch.
			if err := rows.flush(w); err != nil {
				return nil, nil, nil, err
			}
			var one string
			err := w.queryRow(headQuery, t.ID).Scan(&one)
			switch {
			case err == nil:
				hold = 1
			case !errors.Is(err, sql.ErrNoRows):
				return nil, nil, nil, err
			}
		}
		d := &store.Delivery{
			ID:            w.ids.next("dlv"),
			EventID:       id,
			EndpointID:    t.ID,
			Tenant:        e.Tenant,
			EventType:     e.Type,
			Status:        store.StatusPending,
			NextAttemptAt: e.CreatedAt,
			FIFO:          t.FIFO,
			CreatedAt:     e.CreatedAt,
			UpdatedAt:     e.CreatedAt,
		}
		// Claimed at creation: due again, and leased, until the
		// lease is over; see store.Capabilities.SetDispatcher.
		var ep *store.Endpoint
		if dc != nil && !t.FIFO && !asked[t.ID] {
			asked[t.ID] = true
			if dc.d.Admits(t.ID) {
				if ep, err = w.endpoint(t.ID); err != nil {
					return nil, nil, nil, err
				}
				if ep.RateLimit > 0 || ep.Disabled {
					ep = nil
				}
			}
		}
		next, leased, leasedBy := created, any(nil), any(nil)
		if ep != nil {
			d.Claim, d.NextAttemptAt = 1, claimedAt.Add(dc.lease).Truncate(time.Millisecond)
			next = ms(d.NextAttemptAt)
			leased, leasedBy = next, w.s.node
		}
		if err := rows.delivery(w, d.ID, id, t.ID, e.Tenant, e.Type, next, leased, leasedBy, d.Claim, hold, boolInt(t.FIFO), created, created); err != nil {
			return nil, nil, nil, err
		}
		out = append(out, d)
		if ep != nil {
			jobs = append(jobs, &store.Job{Delivery: *d, Endpoint: store.JobEndpoint(ep, claimedAt)})
		}
	}
	return nil, out, jobs, nil
}

// insertChunk bounds the rows of one multi-row INSERT of insertRows, and
// so the prepared statements kept for them: one per length up to it.
const insertChunk = 64

const (
	eventInsert    = `INSERT INTO events (` + eventCols + `) VALUES `
	eventRow       = `(?, ?, ?, ?, ?, ?, ?, ?, ?)`
	deliveryInsert = `INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
			next_attempt_at, leased_until, leased_by, claim, hold, fifo, created_at, updated_at) VALUES `
	deliveryRow = `(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)`
	fieldInsert = `INSERT INTO event_fields (event_id, path, value_key, created_at) VALUES `
	fieldRow    = `(?, ?, ?, ?)`
)

// insertRows gathers the event and delivery rows of one createEvents
// transaction and writes them insertChunk to a statement: a statement per
// row costs more than the row. Events are written before their deliveries
// and searchable fields (which reference them); flush must run before
// anything reads those tables.
type insertRows struct {
	events     rowBatch
	fields     rowBatch
	deliveries rowBatch
}

func newInsertRows() *insertRows {
	return &insertRows{
		events:     rowBatch{insert: eventInsert, row: eventRow},
		fields:     rowBatch{insert: fieldInsert, row: fieldRow},
		deliveries: rowBatch{insert: deliveryInsert, row: deliveryRow},
	}
}

func (r *insertRows) event(w *writer, args ...any) error    { return r.add(w, &r.events, args) }
func (r *insertRows) delivery(w *writer, args ...any) error { return r.add(w, &r.deliveries, args) }

// field gathers an event_fields row (see indexFields).
func (r *insertRows) field(w *writer, args ...any) error { return r.add(w, &r.fields, args) }

// add gathers a row of b, and flushes every batch (in order) once b holds
// insertChunk rows.
func (r *insertRows) add(w *writer, b *rowBatch, args []any) error {
	b.args = append(b.args, args...)
	if b.n++; b.n == insertChunk {
		return r.flush(w)
	}
	return nil
}

// flush writes the rows gathered so far.
func (r *insertRows) flush(w *writer) error {
	if err := r.events.write(w); err != nil {
		return err
	}
	if err := r.fields.write(w); err != nil {
		return fmt.Errorf("index fields: %w", err)
	}
	return r.deliveries.write(w)
}

// rowBatch is the rows gathered for one multi-row INSERT: insert followed
// by row once per row.
type rowBatch struct {
	insert, row string
	args        []any
	n           int
}

// write writes the rows of b, if any, and empties it.
func (b *rowBatch) write(w *writer) error {
	if b.n == 0 {
		return nil
	}
	_, err := w.exec(b.insert+b.row+strings.Repeat(", "+b.row, b.n-1), b.args...)
	w.dirty = true
	b.args, b.n = b.args[:0], 0
	return err
}

// GetEvent returns the event or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	row, err := s.queryRow(ctx, `SELECT `+eventCols+`, erased_at FROM events WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	ev, err := scanErasedEvent(row)
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return ev, nil
}
