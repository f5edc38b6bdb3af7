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
	id    string
	fifo  bool
	rated bool // has a rate limit
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
	targetsQuery = `SELECT id, event_types, fifo, filter, updated_at, rate_limit FROM endpoints WHERE tenant = $1 AND NOT disabled ORDER BY id`
	// newestPendingQuery returns the newest pending delivery of each
	// endpoint of $1 (NULL if none).
	newestPendingQuery = `SELECT ep, (SELECT id FROM deliveries WHERE endpoint_id = ep AND status = 'pending' ORDER BY id DESC LIMIT 1)
		FROM unnest($1::text[]) AS ep`
	// insertDeliveriesQuery inserts the deliveries of event $1; those
	// with a lease end (claimed at creation) are leased by node $9 until
	// then, with claim 1.
	insertDeliveriesQuery = `INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status,
			next_attempt_at, leased_until, leased_by, claim, hold, fifo, created_at, updated_at)
		SELECT d.id, $1, d.endpoint_id, $2, $3, 'pending', coalesce(d.leased, $4), d.leased,
			CASE WHEN d.leased IS NOT NULL THEN $9::text END, CASE WHEN d.leased IS NOT NULL THEN 1 ELSE 0 END,
			d.hold, d.fifo, $4, $4
		FROM unnest($5::text[], $6::text[], $7::bool[], $8::bool[], $10::int8[]) AS d(id, endpoint_id, hold, fifo, leased)`
	// handLockQuery tries, without waiting, the claim lock (namespace $2)
	// of each endpoint of $1, as a limited claim does, and returns those
	// it got.
	handLockQuery = `SELECT ep FROM unnest($1::text[]) AS ep WHERE pg_try_advisory_xact_lock($2::int4, hashtext(ep))`
	// inFlightQuery counts each endpoint of $1's leases unexpired at $2
	// (the partial index deliveries_leased). It must be a statement after
	// handLockQuery's: its snapshot then shows every claim committed
	// before the locks were granted.
	inFlightQuery = `SELECT ep, (SELECT count(*) FROM deliveries WHERE endpoint_id = ep AND leased_until > $2)
		FROM unnest($1::text[]) AS ep`
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
	h := s.newHandOver()
	out, err := s.createEvent(ctx, tx, &e, idempotentSince, only, true, h)
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
	h.dispatch()
	return &e, out, nil
}

// handOver is the claims at creation of one transaction (see
// SetDispatcher): nil when no dispatcher is set.
type handOver struct {
	dc        *dispatchConfig
	claimedAt time.Time
	// asked: the endpoints the dispatcher was asked about. Its Admits
	// answers for one delivery, before this transaction's are
	// dispatched, so it is asked once per endpoint and transaction; the
	// endpoint's other deliveries of a batch are left to the claims.
	asked map[string]bool
	jobs  []*store.Job
}

func (s *Store) newHandOver() *handOver {
	dc := s.dispatch.Load()
	if dc == nil {
		return nil
	}
	return &handOver{dc: dc, claimedAt: time.Now(), asked: map[string]bool{}}
}

// candidates returns the targets the dispatcher admits, once per endpoint:
// those without FIFO or a rate limit.
func (h *handOver) candidates(targets []target) []string {
	if h == nil {
		return nil
	}
	var out []string
	for _, t := range targets {
		if t.fifo || t.rated || h.asked[t.id] {
			continue
		}
		h.asked[t.id] = true
		if h.dc.d.Admits(t.id) {
			out = append(out, t.id)
		}
	}
	return out
}

// leaseEnd is when the leases of the deliveries claimed at creation end.
func (h *handOver) leaseEnd() time.Time {
	return h.claimedAt.Add(h.dc.lease).Truncate(time.Millisecond)
}

// dispatch hands the jobs claimed at creation to the dispatcher, once
// their transaction has committed.
func (h *handOver) dispatch() {
	if h != nil && len(h.jobs) > 0 {
		h.dc.d.Dispatch(h.jobs, h.claimedAt)
	}
}

// createEvent queues, in tx, the writes of e (ID set) and its deliveries,
// and with commit set the COMMIT after them. It returns errKeyInUse, with
// the transaction still usable, if e's idempotency key is in use: the
// event's insert then has to be undone (a savepoint, or the whole
// transaction).
func (s *Store) createEvent(ctx context.Context, tx *pipeTx, e *store.Event, idempotentSince time.Time, only []string, commit bool, h *handOver) ([]*store.Delivery, error) {
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

	// Round trip 2, if a target is FIFO or may be claimed at creation:
	// the FIFO targets' locks and pending deliveries, the others' claim
	// locks and leases.
	holds, claimed, err := s.prepareTargets(ctx, tx, targets, h)
	if err != nil {
		return nil, err
	}

	// Last round trip: the deliveries, and COMMIT.
	n := len(targets)
	ids, endpoints := make([]string, n), make([]string, n)
	fifos := make([]bool, n)
	leased := make([]*int64, n)
	var out []*store.Delivery
	for i, t := range targets {
		// After prepareTargets: a FIFO delivery's id must come after the
		// pending ones it observed.
		ids[i], endpoints[i], fifos[i] = s.ids.next("dlv"), t.id, t.fifo
		d := &store.Delivery{
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
		}
		if ep := claimed[t.id]; ep != nil {
			end := h.leaseEnd()
			v := ms(end)
			leased[i] = &v
			d.Claim, d.NextAttemptAt = 1, end
			h.jobs = append(h.jobs, &store.Job{Delivery: *d, Event: *e, Endpoint: store.JobEndpoint(ep, h.claimedAt)})
		}
		out = append(out, d)
	}
	if n == 0 && !commit {
		return out, nil
	}
	err = tx.batch(ctx, commit, func(b *pgx.Batch) {
		if n > 0 {
			b.Queue(insertDeliveriesQuery, e.ID, e.Tenant, e.Type, created, ids, endpoints, holds, fifos, s.node, leased)
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
	h := s.newHandOver()
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
		out, err := s.createEvent(ctx, tx, &e, idempotentSince, nil, false, h)
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
	h.dispatch()
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
		if err := rows.Scan(&e.ID, &types, &e.FIFO, &text, &updated, &e.RateLimit); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
			return nil, fmt.Errorf("endpoint %s: decode event types: %w", e.ID, err)
		}
		e.Filter, e.UpdatedAt = text, time.UnixMilli(updated)
		if only == nil && store.Matches(&e, ev, match) || only != nil && slices.Contains(only, e.ID) {
			out = append(out, target{id: e.ID, fifo: e.FIFO, rated: e.RateLimit > 0})
		}
	}
	return out, rows.Err()
}

// prepareTargets returns the hold flag of each target's new delivery: true
// for a FIFO endpoint that already has a pending delivery (the new one
// waits behind it). It takes the FIFO endpoints' locks, so that the answer
// stays true until commit, and moves the id generator past their pending
// deliveries. It also returns the endpoints, of those h's dispatcher
// admits, whose new delivery this transaction claims: those whose claim
// lock it got and whose unexpired leases, counted after the lock was
// granted, are below the dispatcher's cap. Like a limited claim, it then
// holds the claim lock until commit, so that the cap holds across nodes.
func (s *Store) prepareTargets(ctx context.Context, tx *pipeTx, targets []target, h *handOver) ([]bool, map[string]*store.Endpoint, error) {
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
	cands := h.candidates(targets)
	if len(fifo) == 0 && len(cands) == 0 {
		return holds, nil, nil
	}
	pending := map[string]bool{}
	var claimed map[string]*store.Endpoint
	err := tx.batch(ctx, false, func(b *pgx.Batch) {
		if len(fifo) > 0 {
			b.Queue(lockQuery(lockArgs(locks)))
			b.Queue(newestPendingQuery, fifo)
		}
		if len(cands) > 0 {
			if h.dc.maxInFlight > 0 {
				b.Queue(handLockQuery, cands, nsClaim)
				b.Queue(inFlightQuery, cands, ms(h.claimedAt))
			}
			b.Queue(`SELECT `+endpointCols+` FROM endpoints WHERE id = ANY($1)`, cands)
		}
	}, func(br pgx.BatchResults) error {
		if len(fifo) > 0 {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("lock FIFO endpoints: %w", err)
			}
			if err := readNewestPending(br, s, pending); err != nil {
				return fmt.Errorf("pending deliveries of FIFO endpoints: %w", err)
			}
		}
		if len(cands) == 0 {
			return nil
		}
		room := map[string]bool{}
		if h.dc.maxInFlight > 0 {
			locked := map[string]bool{}
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("claim locks: %w", err)
			}
			ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return fmt.Errorf("claim locks: %w", err)
			}
			for _, id := range ids {
				locked[id] = true
			}
			rows, err = br.Query()
			if err != nil {
				return fmt.Errorf("leases: %w", err)
			}
			for rows.Next() {
				var (
					id string
					n  int64
				)
				if err := rows.Scan(&id, &n); err != nil {
					rows.Close()
					return fmt.Errorf("leases: %w", err)
				}
				room[id] = locked[id] && n < int64(h.dc.maxInFlight)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("leases: %w", err)
			}
		} else {
			for _, id := range cands {
				room[id] = true
			}
		}
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("endpoints: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			ep, err := s.scanEndpoint(rows)
			if err != nil {
				return fmt.Errorf("endpoints: %w", err)
			}
			if room[ep.ID] && !ep.Disabled && !ep.FIFO && ep.RateLimit == 0 {
				if claimed == nil {
					claimed = map[string]*store.Endpoint{}
				}
				claimed[ep.ID] = ep
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, err
	}
	for i, t := range targets {
		holds[i] = pending[t.id]
	}
	return holds, claimed, nil
}

// readNewestPending reads the rows of newestPendingQuery into pending,
// moving s's id generator past each.
func readNewestPending(br pgx.BatchResults, s *Store, pending map[string]bool) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id     string
			newest *string
		)
		if err := rows.Scan(&id, &newest); err != nil {
			return err
		}
		if newest != nil {
			pending[id] = true
			s.ids.observe(*newest)
		}
	}
	return rows.Err()
}

// GetEvent returns the event or ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id string) (*store.Event, error) {
	ev, err := scanErasedEvent(s.pool.QueryRow(ctx, `SELECT `+eventCols+`, erased_at FROM events WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get event %s: %w", id, err)
	}
	return ev, nil
}
