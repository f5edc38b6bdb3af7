package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const deliveryCols = `id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at,
	claim, last_status, last_error, fifo, created_at, updated_at, completed_at`

func scanDelivery(r store.RowScanner) (*store.Delivery, error) {
	var d store.Delivery
	if err := r.Scan(deliveryDest(&d)...); err != nil {
		return nil, interpretError(err)
	}
	return &d, nil
}

// deliveryDest returns the scan destinations of deliveryCols into d.
func deliveryDest(d *store.Delivery) []any {
	return []any{&d.ID, &d.EventID, &d.EndpointID, &d.Tenant, &d.EventType, &d.Status, &d.Attempts,
		msDest{&d.NextAttemptAt}, &d.Claim, &d.LastStatus, &d.LastError, &d.FIFO, msDest{&d.CreatedAt},
		msDest{&d.UpdatedAt}, nullMSDest{&d.CompletedAt}}
}

// msDest and nullMSDest scan a column of Unix milliseconds into a time.
type (
	msDest     struct{ t *time.Time }
	nullMSDest struct{ t **time.Time }
)

func (m msDest) Scan(src any) error {
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan %T into a time: want int64 milliseconds", src)
	}
	*m.t = fromMS(v)
	return nil
}

func (m nullMSDest) Scan(src any) error {
	if src == nil {
		*m.t = nil
		return nil
	}
	v, ok := src.(int64)
	if !ok {
		return fmt.Errorf("scan %T into a time: want int64 milliseconds", src)
	}
	t := fromMS(v)
	*m.t = &t
	return nil
}

// claimQuery claims due deliveries in one statement. The CTE picks them: a
// range scan of the partial index deliveries_due (held deliveries are not in
// it), with the excluded endpoints filtered from the index too, locking
// each row it picks and skipping the rows other transactions have locked,
// so that concurrent claimers, on this node or others, take disjoint sets
// without waiting for each other. MATERIALIZED keeps PostgreSQL from
// folding the CTE into the UPDATE, which could run it more than once. The
// UPDATE then moves each picked delivery's next attempt to the end of the
// lease, records the node that holds it ($5) and bumps its claim, and
// returns it with its endpoint and event.
const claimQuery = `WITH picked AS MATERIALIZED (
		SELECT id FROM deliveries
		WHERE status = 'pending' AND NOT hold AND next_attempt_at <= $1 AND endpoint_id <> ALL($2::text[])
		ORDER BY next_attempt_at, id
		LIMIT $3
		FOR UPDATE SKIP LOCKED
	)
	UPDATE deliveries AS d SET next_attempt_at = $4, leased_until = $4, leased_by = $5, claim = d.claim + 1, updated_at = $1
	FROM picked, endpoints AS e, events AS ev
	WHERE d.id = picked.id AND e.id = d.endpoint_id AND ev.id = d.event_id
	` + claimReturning

// claimReturning is what a claim returns of each delivery it claims (d),
// its endpoint (e) and its event (ev), for scanJobs.
const claimReturning = `RETURNING d.id, d.event_id, d.endpoint_id, d.tenant, d.event_type, d.status, d.attempts, d.next_attempt_at,
		d.claim, d.last_status, d.last_error, d.fifo, d.created_at, d.updated_at, d.completed_at,
		e.id, e.tenant, e.url, e.description, e.scheme, e.custom_scheme, e.secrets, e.event_types,
		e.disabled, e.disabled_reason, e.fifo, e.rate_limit, e.failing_since, e.filter, e.created_at, e.updated_at,
		e.settings, e.timeout_ms, e.retry_schedule, e.trace_context,
		ev.id, ev.tenant, ev.event_type, ev.payload, ev.idempotency_key, ev.created_at, ev.content_type, ev.headers, ev.traceparent`

// ClaimDueDeliveries claims up to p.Limit due deliveries of enabled
// endpoints (for FIFO endpoints only the oldest pending one), oldest due
// first: it sets their NextAttemptAt to p.Now+p.Lease and increments their
// Claim. Concurrent calls, from this Store or from other nodes', never
// claim the same delivery. With p.MaxInFlight or p.RateLimits, the limits
// hold across every node (claimLimited). The jobs come back ordered by
// delivery id. Secrets expired at p.Now are left out of the jobs'
// endpoints.
func (s *Store) ClaimDueDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	if p.MaxInFlight > 0 || p.RateLimits {
		jobs, err := s.claimLimited(ctx, p)
		if err != nil {
			return nil, fmt.Errorf("claim deliveries: %w", err)
		}
		return jobs, nil
	}
	exclude := p.ExcludeEndpoints
	if exclude == nil {
		exclude = []string{}
	}
	rows, err := s.pool.Query(ctx, claimQuery, ms(p.Now), exclude, p.Limit, ms(p.Now.Add(p.Lease)), s.node)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	jobs, err := s.scanJobs(rows, p.Now)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	return jobs, nil
}

// scanJobs reads and closes the rows of a claim (claimQuery's RETURNING
// columns), ordered by delivery id.
func (s *Store) scanJobs(rows pgx.Rows, now time.Time) ([]*store.Job, error) {
	defer rows.Close()
	var (
		jobs      []*store.Job
		endpoints = map[string]*store.Endpoint{}
	)
	for rows.Next() {
		var (
			j                store.Job
			e                store.Endpoint
			sealed           []byte
			types            string
			failing          *int64
			flt              *string
			created, updated int64
			key              *string
			evCreated        int64
			evHeaders        *string
			settings         []byte
			timeoutMS        int64
			sched            *string
		)
		dest := append(deliveryDest(&j.Delivery),
			&e.ID, &e.Tenant, &e.URL, &e.Description, &e.Scheme, &e.CustomScheme, &sealed, &types,
			&e.Disabled, &e.DisabledReason, &e.FIFO, &e.RateLimit, &failing, &flt, &created, &updated,
			&settings, &timeoutMS, &sched, &e.TraceContext,
			&j.Event.ID, &j.Event.Tenant, &j.Event.Type, &j.Event.Payload, &key, &evCreated,
			&j.Event.ContentType, &evHeaders, &j.Event.TraceParent)
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		// Every job of one endpoint shares one decryption.
		ep, ok := endpoints[e.ID]
		if !ok {
			if err := s.decodeEndpoint(&e, sealed, types); err != nil {
				return nil, err
			}
			if err := s.decodeSettings(&e, settings, timeoutMS, sched); err != nil {
				return nil, err
			}
			if flt != nil {
				e.Filter = []byte(*flt)
			}
			e.FailingSince = fromNullMS(failing)
			e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
			ep = &e
			endpoints[e.ID] = ep
		}
		j.Endpoint = store.JobEndpoint(ep, now)
		if j.Event.Payload == nil {
			j.Event.Payload = []byte{}
		}
		if key != nil {
			j.Event.IdempotencyKey = *key
		}
		j.Event.CreatedAt = fromMS(evCreated)
		if evHeaders != nil {
			if err := store.DecodeEventHeaders(*evHeaders, &j.Event.Headers); err != nil {
				return nil, fmt.Errorf("event %s: %w", j.Event.ID, err)
			}
		}
		jobs = append(jobs, &j)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.SortFunc(jobs, func(a, b *store.Job) int { return cmp.Compare(a.Delivery.ID, b.Delivery.ID) })
	return jobs, nil
}

// CompleteAttempts records each result's attempt and applies its new
// status, each only if the delivery's Claim still equals r.Claim and it is
// still pending; other results are skipped and reported by index in lost.
// The batch is one transaction. It maintains each endpoint's FailingSince:
// set to the attempt's start when an attempt does not succeed and it is
// nil, cleared when one succeeds. Attempt.Number, EndpointID and EventID are
// taken from the delivery; an empty Attempt.ID is generated.
func (s *Store) CompleteAttempts(ctx context.Context, results []store.AttemptResult) (lost []int, err error) {
	if len(results) == 0 {
		return nil, nil
	}
	headers := make([]string, len(results))
	for i := range results {
		r := &results[i]
		switch r.Status {
		case store.StatusPending, store.StatusSucceeded, store.StatusFailed:
		default:
			return nil, fmt.Errorf("complete attempts: result %d: status %q is not pending, succeeded or failed", i, r.Status)
		}
		h := r.Attempt.RequestHeaders
		if h == nil {
			h = map[string]string{}
		}
		b, err := json.Marshal(h)
		if err != nil {
			return nil, fmt.Errorf("complete attempts: result %d: encode headers: %w", i, err)
		}
		headers[i] = string(b)
	}
	// A delivery named twice is completed twice, in order, as if by two
	// calls: each round holds at most one result per delivery.
	var rounds [][]int
	seen := map[string]int{}
	for i, r := range results {
		n := seen[r.DeliveryID]
		seen[r.DeliveryID] = n + 1
		if n == len(rounds) {
			rounds = append(rounds, nil)
		}
		rounds[n] = append(rounds[n], i)
	}
	attemptIDs := make([]string, len(results))
	for i, r := range results {
		attemptIDs[i] = r.Attempt.ID
		if attemptIDs[i] == "" {
			attemptIDs[i] = s.ids.next("att")
		}
	}
	deliveryIDs := make([]string, 0, len(seen))
	for id := range seen {
		deliveryIDs = append(deliveryIDs, id)
	}

	err = s.inTx(ctx, func(tx pgx.Tx) error {
		lost = lost[:0]
		// The endpoint locks of every delivery of the batch, first: they
		// order this transaction against the others that write the same
		// endpoints' rows or hold flags.
		rows, err := tx.Query(ctx, `SELECT DISTINCT endpoint_id FROM deliveries WHERE id = ANY($1)`, deliveryIDs)
		if err != nil {
			return err
		}
		epIDs, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		locks := make([]xlock, len(epIDs))
		for i, id := range epIDs {
			locks[i] = endpointLock(id)
		}
		if err := lockAll(ctx, tx, locks); err != nil {
			return err
		}

		now := ms(time.Now())
		applied := make([]*completed, len(results))
		for _, round := range rounds {
			if err := s.completeRound(ctx, tx, results, round, now, applied); err != nil {
				return err
			}
		}
		var att attemptRows
		for i, c := range applied {
			if c == nil {
				lost = append(lost, i)
				continue
			}
			att.add(&results[i], c, attemptIDs[i], headers[i])
		}
		if len(att.id) == 0 {
			return nil
		}
		if err := att.insert(ctx, tx); err != nil {
			return err
		}
		return s.afterAttempts(ctx, tx, results, applied)
	})
	if err != nil {
		return nil, fmt.Errorf("complete attempts: %w", err)
	}
	return lost, nil
}

// completed is what the delivery row said once a result was applied.
type completed struct {
	endpointID, eventID, eventType string
	attempts                       int
	// held: the delivery was held while in flight (its endpoint was
	// disabled, or turned FIFO behind another), so it is not a FIFO head.
	held bool
}

// completeQuery applies results, one per delivery, each only if its claim
// is current, and returns what the applied ones need for their attempt.
const completeQuery = `UPDATE deliveries AS d SET status = r.status, attempts = d.attempts + 1,
		next_attempt_at = COALESCE(r.next, d.next_attempt_at), last_status = r.code, last_error = r.err,
		leased_until = NULL, updated_at = $7,
		completed_at = CASE WHEN r.status = 'pending' THEN NULL ELSE $7::bigint END
	FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::int4[], $6::text[]) AS r(id, claim, status, next, code, err)
	WHERE d.id = r.id AND d.claim = r.claim AND d.status = 'pending'
	RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.attempts, d.hold`

// completeRound applies the results at the indexes of round (each naming a
// different delivery) in one statement, and records in applied those whose
// claim was current.
func (s *Store) completeRound(ctx context.Context, tx pgx.Tx, results []store.AttemptResult, round []int, now int64, applied []*completed) error {
	n := len(round)
	var (
		ids      = make([]string, n)
		claims   = make([]int64, n)
		statuses = make([]string, n)
		nexts    = make([]*int64, n)
		codes    = make([]int32, n)
		errs     = make([]string, n)
		index    = make(map[string]int, n)
	)
	for k, i := range round {
		r := &results[i]
		ids[k], claims[k], statuses[k] = r.DeliveryID, r.Claim, string(r.Status)
		if r.Status == store.StatusPending {
			v := ms(r.NextAttemptAt)
			nexts[k] = &v
		}
		codes[k], errs[k] = int32(r.Attempt.StatusCode), cleanText(r.Attempt.Error)
		index[r.DeliveryID] = i
	}
	rows, err := tx.Query(ctx, completeQuery, ids, claims, statuses, nexts, codes, errs, now)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			c  completed
		)
		if err := rows.Scan(&id, &c.endpointID, &c.eventID, &c.eventType, &c.attempts, &c.held); err != nil {
			return err
		}
		applied[index[id]] = &c
	}
	return rows.Err()
}

// attemptRows collects attempts for one INSERT.
type attemptRows struct {
	id, delivery, endpoint, event, url, headers, errMsg, trigger []string
	number, status                                               []int32
	started, duration                                            []int64
	body                                                         [][]byte
}

func (a *attemptRows) add(r *store.AttemptResult, c *completed, id, headers string) {
	at := &r.Attempt
	a.id = append(a.id, id)
	a.delivery = append(a.delivery, r.DeliveryID)
	a.endpoint = append(a.endpoint, c.endpointID)
	a.event = append(a.event, c.eventID)
	a.number = append(a.number, int32(c.attempts))
	a.started = append(a.started, ms(at.StartedAt))
	a.duration = append(a.duration, int64(at.Duration))
	a.url = append(a.url, at.URL)
	a.headers = append(a.headers, headers)
	a.status = append(a.status, int32(at.StatusCode))
	a.errMsg = append(a.errMsg, cleanText(at.Error))
	a.body = append(a.body, at.ResponseBody)
	a.trigger = append(a.trigger, at.Trigger)
}

func (a *attemptRows) insert(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `INSERT INTO attempts (id, delivery_id, endpoint_id, event_id, attempt_number, started_at,
			duration_ns, url, request_headers, status_code, error_message, response_body, trigger_kind)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::int8[], $7::int8[],
			$8::text[], $9::text[], $10::int4[], $11::text[], $12::bytea[], $13::text[])`,
		a.id, a.delivery, a.endpoint, a.event, a.number, a.started, a.duration, a.url, a.headers, a.status,
		a.errMsg, a.body, a.trigger)
	return interpretError(err)
}

// afterAttempts updates the endpoints of the applied results: their
// FailingSince, result by result in order, and, for enabled FIFO endpoints
// whose delivery is done or back to waiting for a retry, the head: the
// oldest pending delivery, which may be one retried or replayed while the
// previous head was in flight.
func (s *Store) afterAttempts(ctx context.Context, tx pgx.Tx, results []store.AttemptResult, applied []*completed) error {
	var ids []string
	for _, c := range applied {
		if c != nil && !slices.Contains(ids, c.endpointID) {
			ids = append(ids, c.endpointID)
		}
	}
	type state struct {
		failing, was *int64
		head         bool // enabled FIFO endpoint: promote a new head if one finished
		done         bool
		retried      bool
	}
	states := map[string]*state{}
	var (
		demote []string    // FIFO heads back to waiting for a retry
		ops    []opWebhook // operational webhooks to write
	)
	rows, err := tx.Query(ctx, `SELECT id, failing_since, fifo AND NOT disabled FROM endpoints WHERE id = ANY($1)`, ids)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			id   string
			st   state
			head bool
		)
		if err := rows.Scan(&id, &st.failing, &head); err != nil {
			rows.Close()
			return err
		}
		st.was, st.head = st.failing, head
		states[id] = &st
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, c := range applied {
		if c == nil {
			continue // lost
		}
		st := states[c.endpointID]
		if st == nil {
			continue // the endpoint was deleted while the attempt was in flight
		}
		r := &results[i]
		if c.endpointID != store.OperatorEndpointID {
			// The operational webhooks this result makes; none about the
			// operator endpoint's own.
			switch {
			case r.Status == store.StatusFailed:
				ops = append(ops, opWebhook{store.OpDeliveryExhausted, store.Exhausted(
					c.endpointID, r.DeliveryID, c.eventID, c.eventType, c.attempts, r.Attempt.StatusCode, cleanText(r.Attempt.Error))})
			case r.Status == store.StatusSucceeded && st.failing != nil:
				ops = append(ops, opWebhook{store.OpDeliveryRecovered, store.Recovered(
					c.endpointID, r.DeliveryID, c.eventID, c.eventType, fromMS(*st.failing), c.attempts)})
			}
		}
		switch succeeded := r.Status == store.StatusSucceeded; {
		case !succeeded && st.failing == nil:
			v := ms(r.Attempt.StartedAt)
			st.failing = &v
		case succeeded:
			st.failing = nil
		}
		switch {
		case c.held:
			// Not the head: its end changes no hold flag.
		case r.Status != store.StatusPending:
			st.done = true
		case st.head:
			st.retried = true
			demote = append(demote, r.DeliveryID)
		}
	}
	var (
		changed []string
		failing []*int64
		promote []string
	)
	for _, id := range ids {
		st := states[id]
		if st == nil {
			continue
		}
		if !sameNullInt(st.failing, st.was) {
			changed = append(changed, id)
			failing = append(failing, st.failing)
		}
		if st.head && (st.done || st.retried) {
			promote = append(promote, id)
		}
	}
	if len(changed) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE endpoints AS e SET failing_since = u.failing
			FROM unnest($1::text[], $2::int8[]) AS u(id, failing) WHERE e.id = u.id`, changed, failing); err != nil {
			return err
		}
	}
	if len(demote) > 0 {
		if _, err := tx.Exec(ctx, demoteQuery, demote); err != nil {
			return err
		}
	}
	if err := promoteHeads(ctx, tx, promote); err != nil {
		return err
	}
	return s.operational(ctx, tx, time.Now(), ops)
}

func sameNullInt(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// releaseQuery makes due at $1 the pending deliveries that node $2 holds
// unexpired leases on, bumping their claims. The partial index
// deliveries_leased holds only leased rows.
const releaseQuery = `UPDATE deliveries SET next_attempt_at = $1, leased_until = NULL, leased_by = NULL,
		claim = claim + 1, updated_at = $1
	WHERE leased_until > $1 AND leased_by = $2 AND status = 'pending'`

// ReleaseLeases makes due at now the pending deliveries whose unexpired
// leases this node's claims took (Config.NodeID), and bumps their claims,
// so that a node restarting after kill -9 or a crash sends at once what was
// in flight when it died. Other nodes' leases are left to run out: they
// may be alive. Without a NodeID it releases nothing. Open holds the node
// id's advisory lock, so no other live Store has the same id (see
// Config.NodeID). Call it before this Store claims anything: it releases
// this Store's own leases too. A released FIFO head stays the head; a
// delivery held back stays held.
func (s *Store) ReleaseLeases(ctx context.Context, now time.Time) (int, error) {
	if s.node == nil {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, releaseQuery, ms(now), *s.node)
	if err != nil {
		return 0, fmt.Errorf("release leases of node %s: %w", *s.node, err)
	}
	return int(tag.RowsAffected()), nil
}

// GetDelivery returns the delivery or ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, id string) (*store.Delivery, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get delivery %s: %w", id, err)
	}
	return d, nil
}

// ListDeliveries returns a page of deliveries, newest first, and the cursor
// of the next page ("" at the end).
func (s *Store) ListDeliveries(ctx context.Context, f store.DeliveryFilter) ([]*store.Delivery, string, error) {
	if err := store.CheckFieldMatches(f.Payload, s.searchPaths); err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	limit := pageLimit(f.Page)
	q, args := listDeliveriesQuery(f, limit)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanDelivery)
	if err != nil {
		return nil, "", fmt.Errorf("list deliveries: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(x *store.Delivery) string { return x.ID })
	return out, next, nil
}

// listDeliveriesQuery builds the query of ListDeliveries, asking for one row
// more than limit.
func listDeliveriesQuery(f store.DeliveryFilter, limit int) (string, []any) {
	where, args := deliveryConds(f)
	return store.IDPageQuery(`SELECT `+deliveryCols+` FROM deliveries`, where, args, f.Cursor, limit, dollar)
}

// deliveryConds returns the conditions f sets, its page aside, with their
// arguments, numbered from $1.
func deliveryConds(f store.DeliveryFilter) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, cond+" $"+strconv.Itoa(len(args)))
	}
	if f.Tenant != nil {
		add("tenant =", *f.Tenant)
	}
	if f.EventID != "" {
		add("event_id =", f.EventID)
	}
	if f.EndpointID != "" {
		add("endpoint_id =", f.EndpointID)
	}
	if f.EventType != "" {
		add("event_type =", f.EventType)
	}
	switch f.Status {
	case "":
	case store.StatusPending, store.StatusSucceeded, store.StatusFailed, store.StatusCanceled:
		// A literal, so that the partial index deliveries_failed applies
		// to every plan of the statement, generic ones included.
		where = append(where, "status = '"+string(f.Status)+"'")
	default:
		add("status =", string(f.Status))
	}
	if !f.Since.IsZero() {
		add("created_at >=", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at <", ms(f.Until))
	}
	pw, pa := store.DeliveryPayloadConds(f.Payload, len(args), dollar)
	return append(where, pw...), append(args, pa...)
}

// ListAttempts returns the attempts of a delivery, first attempt first.
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]*store.Attempt, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+store.AttemptCols+` FROM attempts WHERE delivery_id = $1 ORDER BY attempt_number`, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("list attempts of %s: %w", deliveryID, err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, store.ScanAttempt)
	if err != nil {
		return nil, fmt.Errorf("list attempts of %s: %w", deliveryID, err)
	}
	return out, nil
}

// RetryDelivery makes a delivery that is not in flight due at now: a failed
// or succeeded one becomes pending again, a pending one waiting for a retry
// is due at once. ErrNotFound if there is none; ErrConflict if it is in
// flight (claimed and its lease not over), canceled, or its endpoint is
// gone.
func (s *Store) RetryDelivery(ctx context.Context, id string, now time.Time) (*store.Delivery, error) {
	var d *store.Delivery
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var endpointID string
		if err := tx.QueryRow(ctx, `SELECT endpoint_id FROM deliveries WHERE id = $1`, id).Scan(&endpointID); err != nil {
			return interpretError(err)
		}
		if err := lockAll(ctx, tx, []xlock{endpointLock(endpointID)}); err != nil {
			return err
		}
		// FOR UPDATE waits for a claim of this delivery being committed,
		// and then reads what it wrote.
		var (
			status string
			leased *int64
		)
		if err := tx.QueryRow(ctx, `SELECT status, leased_until FROM deliveries WHERE id = $1 FOR UPDATE`, id).
			Scan(&status, &leased); err != nil {
			return interpretError(err)
		}
		switch {
		case store.DeliveryStatus(status) == store.StatusCanceled:
			return fmt.Errorf("%w: delivery is canceled", store.ErrConflict)
		case store.DeliveryStatus(status) == store.StatusPending && leased != nil && *leased > ms(now):
			return fmt.Errorf("%w: delivery is in flight", store.ErrConflict)
		}
		// The endpoint lock orders this after an EraseEvent of its event.
		var erased bool
		if err := tx.QueryRow(ctx, `SELECT erased_at IS NOT NULL FROM events
			WHERE id = (SELECT event_id FROM deliveries WHERE id = $1)`, id).Scan(&erased); err != nil {
			return interpretError(err)
		}
		if erased {
			return fmt.Errorf("%w: its event is erased", store.ErrConflict)
		}
		var disabled, fifo bool
		err := tx.QueryRow(ctx, `SELECT disabled, fifo FROM endpoints WHERE id = $1`, endpointID).Scan(&disabled, &fifo)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: endpoint %s is deleted", store.ErrConflict, endpointID)
		}
		if err != nil {
			return err
		}
		d, err = scanDelivery(tx.QueryRow(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1,
			leased_until = NULL, completed_at = NULL, updated_at = $1, fifo = $2, hold = $3 WHERE id = $4
			RETURNING `+deliveryCols, ms(now), fifo, disabled || fifo, id))
		if err != nil {
			return err
		}
		if fifo && !disabled {
			return rehold(ctx, tx, endpointID, false, true, now)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("retry delivery %s: %w", id, err)
	}
	return d, nil
}

// ReplayFailed makes every failed delivery of the endpoint created at or
// after since due at now, and returns how many. ErrNotFound if the endpoint
// does not exist.
func (s *Store) ReplayFailed(ctx context.Context, endpointID string, since, now time.Time) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockAll(ctx, tx, []xlock{endpointLock(endpointID)}); err != nil {
			return err
		}
		var disabled, fifo bool
		if err := tx.QueryRow(ctx, `SELECT disabled, fifo FROM endpoints WHERE id = $1`, endpointID).Scan(&disabled, &fifo); err != nil {
			return interpretError(err)
		}
		tag, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $1, leased_until = NULL,
			completed_at = NULL, updated_at = $1, fifo = $2, hold = $3
			WHERE endpoint_id = $4 AND status = 'failed' AND created_at >= $5
			AND NOT EXISTS (SELECT 1 FROM events WHERE id = deliveries.event_id AND erased_at IS NOT NULL)`,
			ms(now), fifo, disabled || fifo, endpointID, ms(since))
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if n > 0 && fifo && !disabled {
			return rehold(ctx, tx, endpointID, false, true, now)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replay failed deliveries of %s: %w", endpointID, err)
	}
	return int(n), nil
}

// queueStatsQuery measures the queue at $1; the due figures come from the
// partial index deliveries_due alone.
const queueStatsQuery = `SELECT
	(SELECT count(*) FROM deliveries WHERE status = 'pending'),
	(SELECT count(*) FROM deliveries WHERE status = 'pending' AND NOT hold AND next_attempt_at <= $1),
	(SELECT min(next_attempt_at) FROM deliveries WHERE status = 'pending' AND NOT hold AND next_attempt_at <= $1),
	(SELECT count(*) FROM endpoints WHERE disabled)`

// QueueStats measures the queue at now. Due counts the deliveries that can
// be claimed now: those of disabled endpoints, and those waiting behind a
// FIFO head, are pending but not due.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var (
		st     store.QueueStats
		oldest *int64
	)
	err := s.pool.QueryRow(ctx, queueStatsQuery, ms(now)).Scan(&st.Pending, &st.Due, &oldest, &st.DisabledEndpoints)
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	if oldest != nil {
		st.OldestDueAge = max(0, now.Sub(fromMS(*oldest)))
	}
	return st, nil
}
