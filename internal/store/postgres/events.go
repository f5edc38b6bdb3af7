package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const eventCols = `id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers, traceparent`

func scanEvent(r store.RowScanner) (*store.Event, error) {
	var (
		ev      store.Event
		key     *string
		created int64
		headers *string
	)
	if err := r.Scan(&ev.ID, &ev.Tenant, &ev.Type, &ev.Payload, &key, &created, &ev.ContentType, &headers, &ev.TraceParent); err != nil {
		return nil, interpretError(err)
	}
	if headers != nil {
		if err := store.DecodeEventHeaders(*headers, &ev.Headers); err != nil {
			return nil, fmt.Errorf("event %s: %w", ev.ID, err)
		}
	}
	if ev.Payload == nil {
		ev.Payload = []byte{}
	}
	if key != nil {
		ev.IdempotencyKey = *key
	}
	ev.CreatedAt = fromMS(created)
	return &ev, nil
}

// target is an endpoint an event fans out to.
type target struct {
	id   string
	fifo bool
}

// The statements of CreateEvent.
const (
	// claimKeyQuery claims an idempotency key, or takes it over if its
	// event is older than the window ($5), and returns nothing if it is in
	// use. A concurrent call with the same key waits for this transaction
	// and then sees its row.
	claimKeyQuery = `INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (tenant, idempotency_key)
		DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at
		WHERE idempotency_keys.created_at <= $5 RETURNING event_id`
	keyOwnerQuery = `SELECT ev.id, ev.tenant, ev.event_type, ev.payload, ev.idempotency_key, ev.created_at,
		ev.content_type, ev.headers, ev.traceparent
		FROM idempotency_keys AS k JOIN events AS ev ON ev.id = k.event_id
		WHERE k.tenant = $1 AND k.idempotency_key = $2`
	insertEventQuery = `INSERT INTO events (` + eventCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	// targetsQuery reads the enabled endpoints of tenant $1, under the
	// tenant's lock (shared): endpoint writes that change who receives what
	// take it exclusively, so the set read stays true until commit.
	targetsQuery = `SELECT id, event_types, fifo, filter, updated_at FROM endpoints WHERE tenant = $1 AND NOT disabled ORDER BY id`
	// newestPendingQuery returns the newest pending delivery of each
	// endpoint of $1 (NULL if none).
	newestPendingQuery = `SELECT ep, (SELECT id FROM deliveries WHERE endpoint_id = ep AND status = 'pending' ORDER BY id DESC LIMIT 1)
		FROM unnest($1::text[]) AS ep`
	insertDeliveriesQuery = `INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
			next_attempt_at, hold, fifo, created_at, updated_at)
		SELECT d.id, $1, d.endpoint_id, $2, $3, 'pending', $4, d.hold, d.fifo, $4, $4
		FROM unnest($5::text[], $6::text[], $7::bool[], $8::bool[]) AS d(id, endpoint_id, hold, fifo)`
)

// errKeyInUse stops CreateEvent when the idempotency key is taken.
var errKeyInUse = errors.New("idempotency key in use")

// CreateEvent durably stores ev and one pending delivery, due at
// ev.CreatedAt, for each enabled endpoint of ev.Tenant that Accepts ev.Type,
// in one transaction, and returns the deliveries. An empty ev.ID is
// generated and a zero ev.CreatedAt is now; the returned event has them. If
// ev.IdempotencyKey is set and the tenant has an event with the same key
// created after idempotentSince, nothing is written and the earlier event is
// returned with ErrConflict; of concurrent calls with one key, one wins and
// the others get its event. ErrConflict also if ev.ID exists. It returns
// once the transaction is committed.
//
// The transaction is pipelined: two round trips to the database, three
// when the event goes to a FIFO endpoint.
func (s *Store) CreateEvent(ctx context.Context, ev *store.Event, idempotentSince time.Time) (*store.Event, []*store.Delivery, error) {
	return s.acceptEvent(ctx, ev, idempotentSince, nil)
}

// acceptEvent is CreateEvent, and with only set CreateEventFor: the
// deliveries go to the enabled endpoints of the tenant listed in only,
// whatever their filters.
func (s *Store) acceptEvent(ctx context.Context, ev *store.Event, idempotentSince time.Time, only []string) (*store.Event, []*store.Delivery, error) {
	e := store.Accepted(ev)
	if e.ID == "" {
		e.ID = s.ids.next("evt")
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("create event: %w", err)
	}
	defer c.Release()
	tx := &pipeTx{conn: c.Conn(), log: s.log}
	defer tx.end()
	out, err := s.createEvent(ctx, tx, &e, idempotentSince, only, true)
	if errors.Is(err, errKeyInUse) {
		// Read the event that holds the key once this transaction is
		// gone: its writes, the event's id included, may have failed.
		tx.end()
		earlier, err := scanEvent(c.QueryRow(ctx, keyOwnerQuery, e.Tenant, e.IdempotencyKey))
		if err != nil {
			return nil, nil, fmt.Errorf("create event: earlier event with idempotency key %q: %w", e.IdempotencyKey, err)
		}
		return earlier, nil, fmt.Errorf("create event: %w: idempotency key %q is used by event %s",
			store.ErrConflict, e.IdempotencyKey, earlier.ID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("create event: %w", unavailable(err))
	}
	return &e, out, nil
}

// createEvent queues, in tx, the writes of e (ID set) and its deliveries,
// and with commit set the COMMIT after them. It returns errKeyInUse, with
// the transaction still usable, if e's idempotency key is in use: the
// event's insert then has to be undone (a savepoint, or the whole
// transaction).
func (s *Store) createEvent(ctx context.Context, tx *pipeTx, e *store.Event, idempotentSince time.Time, only []string, commit bool) ([]*store.Delivery, error) {
	created := ms(e.CreatedAt)
	var headers *string
	if len(e.Headers) > 0 {
		h, err := store.EncodeEventHeaders(e.Headers)
		if err != nil {
			return nil, err
		}
		headers = &h
	}
	// Round trip 1: the key, the event, the tenant's lock and its enabled
	// endpoints.
	var targets []target
	err := tx.batch(ctx, false, func(b *pgx.Batch) {
		if e.IdempotencyKey != "" {
			b.Queue(claimKeyQuery, e.Tenant, e.IdempotencyKey, e.ID, created, ms(idempotentSince))
		}
		b.Queue(insertEventQuery, e.ID, e.Tenant, e.Type, e.Payload, nullString(e.IdempotencyKey), created,
			cleanText(e.ContentType), headers, cleanText(e.TraceParent))
		b.Queue(lockQuery(lockArgs([]xlock{tenantLock(e.Tenant, true)})))
		b.Queue(targetsQuery, e.Tenant)
	}, func(br pgx.BatchResults) error {
		if e.IdempotencyKey != "" {
			var owner string
			err := br.QueryRow().Scan(&owner)
			if errors.Is(err, pgx.ErrNoRows) {
				return errKeyInUse
			}
			if err != nil {
				return interpretError(err)
			}
		}
		if _, err := br.Exec(); err != nil {
			return interpretError(err)
		}
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("lock tenant %q: %w", e.Tenant, err)
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("endpoints of tenant %q: %w", e.Tenant, err)
		}
		targets, err = scanTargets(rows, e, only, s.filters.ForEvent(e.Payload))
		return err
	})
	if err != nil {
		return nil, err
	}
	if only != nil && len(targets) == 0 {
		return nil, fmt.Errorf("%w: none of endpoints %v is an enabled endpoint of tenant %q", store.ErrNotFound, only, e.Tenant)
	}

	// Round trip 2, if a target is FIFO: its lock and its pending
	// deliveries.
	holds, err := s.fifoHolds(ctx, tx, targets)
	if err != nil {
		return nil, err
	}

	// Last round trip: the deliveries, and COMMIT.
	n := len(targets)
	ids, endpoints := make([]string, n), make([]string, n)
	fifos := make([]bool, n)
	var out []*store.Delivery
	for i, t := range targets {
		// After fifoHolds: a FIFO delivery's id must come after the pending
		// ones it observed.
		ids[i], endpoints[i], fifos[i] = s.ids.next("dlv"), t.id, t.fifo
		out = append(out, &store.Delivery{
			ID:            ids[i],
			EventID:       e.ID,
			EndpointID:    t.id,
			Tenant:        e.Tenant,
			EventType:     e.Type,
			Status:        store.StatusPending,
			NextAttemptAt: e.CreatedAt,
			FIFO:          t.fifo,
			CreatedAt:     e.CreatedAt,
			UpdatedAt:     e.CreatedAt,
		})
	}
	if n == 0 && !commit {
		return out, nil
	}
	err = tx.batch(ctx, commit, func(b *pgx.Batch) {
		if n > 0 {
			b.Queue(insertDeliveriesQuery, e.ID, e.Tenant, e.Type, created, ids, endpoints, holds, fifos)
		}
	}, func(br pgx.BatchResults) error {
		if n > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("insert deliveries: %w", interpretError(err))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CreateEvents is CreateEvent for each event of evs, in one transaction;
// see store.Store. An event with an idempotency key is written under a
// savepoint, rolled back to if the key is in use.
func (s *Store) CreateEvents(ctx context.Context, evs []*store.Event, idempotentSince time.Time) ([]store.EventResult, error) {
	res, err := s.createEvents(ctx, evs, idempotentSince)
	if err != nil {
		return nil, fmt.Errorf("create %d events: %w", len(evs), unavailable(err))
	}
	return res, nil
}

func (s *Store) createEvents(ctx context.Context, evs []*store.Event, idempotentSince time.Time) ([]store.EventResult, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	tx := &pipeTx{conn: c.Conn(), log: s.log}
	defer tx.end()
	res := make([]store.EventResult, len(evs))
	exec := func(sql string) error {
		return tx.batch(ctx, false, func(b *pgx.Batch) { b.Queue(sql) }, func(br pgx.BatchResults) error {
			_, err := br.Exec()
			return err
		})
	}
	for i, ev := range evs {
		e := store.Accepted(ev)
		if e.ID == "" {
			e.ID = s.ids.next("evt")
		}
		keyed := e.IdempotencyKey != ""
		if keyed {
			if err := exec("SAVEPOINT batch_item"); err != nil {
				return nil, fmt.Errorf("savepoint: %w", err)
			}
		}
		out, err := s.createEvent(ctx, tx, &e, idempotentSince, nil, false)
		if errors.Is(err, errKeyInUse) {
			if err := exec("ROLLBACK TO SAVEPOINT batch_item"); err != nil {
				return nil, fmt.Errorf("rollback to savepoint: %w", err)
			}
			earlier, err := scanEvent(tx.conn.QueryRow(ctx, keyOwnerQuery, e.Tenant, e.IdempotencyKey))
			if err != nil {
				return nil, fmt.Errorf("earlier event with idempotency key %q: %w", e.IdempotencyKey, err)
			}
			res[i] = store.EventResult{Event: earlier, Err: fmt.Errorf("%w: idempotency key %q is used by event %s",
				store.ErrConflict, e.IdempotencyKey, earlier.ID)}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		if keyed {
			if err := exec("RELEASE SAVEPOINT batch_item"); err != nil {
				return nil, fmt.Errorf("release savepoint: %w", err)
			}
		}
		res[i] = store.EventResult{Event: &e, Deliveries: out}
	}
	if err := tx.batch(ctx, true, func(*pgx.Batch) {}, func(pgx.BatchResults) error { return nil }); err != nil {
		return nil, err
	}
	return res, nil
}

// scanTargets reads the rows of targetsQuery and keeps the endpoints that
// ev goes to (store.Matches, with match for the payload filters), or with
// only set, those listed in only.
func scanTargets(rows pgx.Rows, ev *store.Event, only []string, match *store.PayloadMatcher) ([]target, error) {
	defer rows.Close()
	var out []target
	for rows.Next() {
		var (
			e       store.Endpoint
			types   string
			text    []byte // nil for NULL
			updated int64
		)
		if err := rows.Scan(&e.ID, &types, &e.FIFO, &text, &updated); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
			return nil, fmt.Errorf("endpoint %s: decode event types: %w", e.ID, err)
		}
		e.Filter, e.UpdatedAt = text, time.UnixMilli(updated)
		if only == nil && store.Matches(&e, ev, match) || only != nil && slices.Contains(only, e.ID) {
			out = append(out, target{id: e.ID, fifo: e.FIFO})
		}
	}
	return out, rows.Err()
}

// fifoHolds returns the hold flag of each target's new delivery: true for a
// FIFO endpoint that already has a pending delivery (the new one waits
// behind it). It takes the FIFO endpoints' locks, so that the answer stays
// true until commit, and moves the id generator past their pending
// deliveries.
func (s *Store) fifoHolds(ctx context.Context, tx *pipeTx, targets []target) ([]bool, error) {
	holds := make([]bool, len(targets))
	var (
		locks []xlock
		fifo  []string
	)
	for _, t := range targets {
		if t.fifo {
			locks = append(locks, endpointLock(t.id))
			fifo = append(fifo, t.id)
		}
	}
	if len(fifo) == 0 {
		return holds, nil
	}
	pending := map[string]bool{}
	err := tx.batch(ctx, false, func(b *pgx.Batch) {
		b.Queue(lockQuery(lockArgs(locks)))
		b.Queue(newestPendingQuery, fifo)
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("lock FIFO endpoints: %w", err)
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("pending deliveries of FIFO endpoints: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var (
				id     string
				newest *string
			)
			if err := rows.Scan(&id, &newest); err != nil {
				return fmt.Errorf("pending deliveries of FIFO endpoints: %w", err)
			}
			if newest != nil {
				pending[id] = true
				s.ids.observe(*newest)
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	for i, t := range targets {
		holds[i] = pending[t.id]
	}
	return holds, nil
}

// GetEvent returns the event or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	ev, err := scanErasedEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+`, erased_at FROM events WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return ev, nil
}
