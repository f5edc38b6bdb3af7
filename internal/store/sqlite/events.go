package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const eventCols = `id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers`

func scanEvent(r scanner) (*store.Event, error) {
	var (
		ev      store.Event
		key     sql.NullString
		created int64
		headers sql.NullString
	)
	if err := r.Scan(&ev.ID, &ev.Tenant, &ev.Type, &ev.Payload, &key, &created, &ev.ContentType, &headers); err != nil {
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
	e := *ev
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	var (
		id      string
		created = ms(e.CreatedAt)
		since   = ms(idempotentSince)
		payload = string(e.Payload)
		headers any
		earlier *store.Event
		out     []*store.Delivery
	)
	if len(e.Headers) > 0 {
		h, err := store.EncodeEventHeaders(e.Headers)
		if err != nil {
			return nil, nil, fmt.Errorf("create event: %w", err)
		}
		headers = h
	}
	dc := s.dispatch.Load()
	var (
		jobs      []*store.Job
		claimedAt time.Time
	)
	err := s.write(ctx, func(w *writer) error {
		earlier, out, jobs, claimedAt = nil, out[:0], jobs[:0], time.Now()
		if e.IdempotencyKey != "" {
			var (
				prevID string
				prevAt int64
			)
			err := w.queryRow(`SELECT event_id, created_at FROM idempotency_keys WHERE tenant = ? AND idempotency_key = ?`,
				e.Tenant, e.IdempotencyKey).Scan(&prevID, &prevAt)
			switch {
			case err == nil && prevAt > since:
				prev, err := scanEvent(w.queryRow(`SELECT `+eventCols+` FROM events WHERE id = ?`, prevID))
				if err != nil {
					return fmt.Errorf("earlier event %s: %w", prevID, err)
				}
				earlier = prev
				return fmt.Errorf("%w: idempotency key %q is used by event %s", store.ErrConflict, e.IdempotencyKey, prevID)
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		id = e.ID
		if id == "" {
			id = w.ids.next("evt")
		}
		if _, err := w.exec(`INSERT INTO events (`+eventCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			id, e.Tenant, e.Type, payload, nullString(e.IdempotencyKey), created, e.ContentType, headers); err != nil {
			return err
		}
		if e.IdempotencyKey != "" {
			if _, err := w.exec(`INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at)
				VALUES (?, ?, ?, ?) ON CONFLICT (tenant, idempotency_key)
				DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`,
				e.Tenant, e.IdempotencyKey, id, created); err != nil {
				return err
			}
		}
		targets, err := w.targets(e.Tenant)
		if err != nil {
			return err
		}
		if only != nil {
			if targets = chosen(targets, only); len(targets) == 0 {
				return fmt.Errorf("%w: none of endpoints %v is an enabled endpoint of tenant %q", store.ErrNotFound, only, e.Tenant)
			}
		}
		match := s.filters.ForEvent(e.Payload)
		for _, t := range targets {
			if only == nil && !store.Matches(t, &e, match) {
				continue
			}
			hold := int64(0)
			if t.FIFO {
				var one string
				err := w.queryRow(headQuery, t.ID).Scan(&one)
				switch {
				case err == nil:
					hold = 1
				case !errors.Is(err, sql.ErrNoRows):
					return err
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
			if dc != nil && !t.FIFO && dc.d.Admits(t.ID) {
				if ep, err = w.endpoint(t.ID); err != nil {
					return err
				}
				if ep.RateLimit > 0 || ep.Disabled {
					ep = nil
				}
			}
			next, leased, leasedBy := created, any(nil), any(nil)
			if ep != nil {
				d.Claim, d.NextAttemptAt = 1, claimedAt.Add(dc.lease).Truncate(time.Millisecond)
				next = ms(d.NextAttemptAt)
				leased, leasedBy = next, w.s.node
			}
			if _, err := w.exec(`INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
				next_attempt_at, leased_until, leased_by, claim, hold, fifo, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?)`,
				d.ID, id, t.ID, e.Tenant, e.Type, next, leased, leasedBy, d.Claim, hold, boolInt(t.FIFO), created, created); err != nil {
				return err
			}
			out = append(out, d)
			if ep != nil {
				jobs = append(jobs, &store.Job{Delivery: *d, Endpoint: jobEndpoint(ep, claimedAt)})
			}
		}
		return nil
	})
	if err != nil {
		if earlier != nil {
			return earlier, nil, fmt.Errorf("create event: %w", err)
		}
		return nil, nil, fmt.Errorf("create event: %w", err)
	}
	e.ID = id
	if len(jobs) > 0 {
		for _, j := range jobs {
			j.Event = e
		}
		dc.d.Dispatch(jobs, claimedAt)
	}
	return &e, out, nil
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
