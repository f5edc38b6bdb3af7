package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const deliveryCols = `id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at,
	claim, last_status, last_error, fifo, created_at, updated_at, completed_at`

func scanDelivery(r scanner) (*store.Delivery, error) {
	var (
		d                      store.Delivery
		status                 string
		next, created, updated int64
		fifo                   int64
		completed              sql.NullInt64
	)
	if err := r.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.Tenant, &d.EventType, &status, &d.Attempts, &next,
		&d.Claim, &d.LastStatus, &d.LastError, &fifo, &created, &updated, &completed); err != nil {
		return nil, interpretError(err)
	}
	d.Status = store.DeliveryStatus(status)
	d.NextAttemptAt = fromMS(next)
	d.FIFO = fifo != 0
	d.CreatedAt, d.UpdatedAt = fromMS(created), fromMS(updated)
	d.CompletedAt = fromNullMS(completed)
	return &d, nil
}

// claimQuery builds the claim statement. The inner SELECT is a range scan
// of the partial index deliveries_due; excluded endpoints are filtered from
// the index too.
func claimQuery(excluded int) string {
	var b strings.Builder
	b.WriteString(`UPDATE deliveries SET next_attempt_at = ?, leased_until = ?, leased_by = ?, claim = claim + 1, updated_at = ?
	WHERE id IN (SELECT id FROM deliveries INDEXED BY deliveries_due
		WHERE status = 'pending' AND hold = 0 AND next_attempt_at <= ?`)
	if excluded > 0 {
		b.WriteString(` AND endpoint_id NOT IN (?`)
		b.WriteString(strings.Repeat(", ?", excluded-1))
		b.WriteString(`)`)
	}
	b.WriteString(` ORDER BY next_attempt_at, id LIMIT ?) RETURNING `)
	b.WriteString(deliveryCols)
	return b.String()
}

var claimQueryPlain = claimQuery(0)

// ClaimDueDeliveries claims up to p.Limit due deliveries of enabled
// endpoints (for FIFO endpoints only the oldest pending one), oldest due
// first: it sets their NextAttemptAt to p.Now+p.Lease and increments their
// Claim. The jobs come back ordered by delivery id. Secrets expired at p.Now
// are left out of the jobs' endpoints.
func (s *Store) ClaimDueDeliveries(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := ms(p.Now)
	lease := ms(p.Now.Add(p.Lease))
	q, dynamic := claimQueryPlain, false
	args := make([]any, 0, 6+len(p.ExcludeEndpoints))
	args = append(args, lease, lease, s.node, now, now)
	if len(p.ExcludeEndpoints) > 0 {
		q, dynamic = claimQuery(len(p.ExcludeEndpoints)), true
		for _, id := range p.ExcludeEndpoints {
			args = append(args, id)
		}
	}
	args = append(args, p.Limit)

	var jobs []*store.Job
	err := s.write(ctx, func(w *writer) error {
		jobs = jobs[:0]
		rows, err := w.claim(p, q, dynamic, args) // limits.go
		if err != nil {
			return err
		}
		var ds []*store.Delivery
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			ds = append(ds, d)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		for _, d := range ds {
			e, err := w.endpoint(d.EndpointID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && e.Disabled) {
				// Cannot happen while the hold flags are right; keep the
				// queue consistent if it does.
				s.log.WarnContext(ctx, "sqlite: claimed a delivery of a missing or disabled endpoint", "delivery_id", d.ID, "endpoint_id", d.EndpointID)
				if err := w.unclaimable(d, e); err != nil {
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			jobs = append(jobs, &store.Job{Delivery: *d, Endpoint: store.JobEndpoint(e, p.Now)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(jobs) == 0 {
		return nil, nil
	}
	// The events are read after the commit, on the engine's read
	// connection: the claim holds the single writer for as short a time as
	// it can, and the events, written before their deliveries and not
	// deleted while one is pending, are there. Should one be missing all
	// the same, the claims simply run out with their leases.
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Delivery.EventID
	}
	events, err := readEvents(ids, func(q string, args ...any) (*sql.Rows, error) { return s.edb.QueryContext(ctx, q, args...) })
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: read events: %w", err)
	}
	for _, j := range jobs {
		ev, ok := events[j.Delivery.EventID]
		if !ok {
			return nil, fmt.Errorf("claim deliveries: event %s of delivery %s: %w", j.Delivery.EventID, j.Delivery.ID, store.ErrNotFound)
		}
		j.Event = *ev
	}
	slices.SortFunc(jobs, func(a, b *store.Job) int { return cmp.Compare(a.Delivery.ID, b.Delivery.ID) })
	return jobs, nil
}

// eventChunk bounds the ids of one IN list, and so the prepared statements
// kept for reading events: one per length up to it.
const eventChunk = 100

// readEvents reads the events with the given ids (repeats allowed) with
// query, eventChunk at a time, and returns those found by id.
func readEvents(ids []string, query func(q string, args ...any) (*sql.Rows, error)) (map[string]*store.Event, error) {
	out := make(map[string]*store.Event, len(ids))
	args := make([]any, 0, min(len(ids), eventChunk))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		rows, err := query(`SELECT `+eventCols+` FROM events WHERE id IN (?`+strings.Repeat(", ?", len(args)-1)+`)`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			ev, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out[ev.ID] = ev
		}
		args = args[:0]
		return errors.Join(rows.Err(), rows.Close())
	}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		out[id] = nil // seen
		args = append(args, id)
		if len(args) == eventChunk {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for id, ev := range out {
		if ev == nil {
			delete(out, id)
		}
	}
	return out, nil
}

// unclaimable undoes the claim of a delivery whose endpoint is gone
// (cancel it) or disabled (hold it).
func (w *writer) unclaimable(d *store.Delivery, e *store.Endpoint) error {
	if e == nil {
		now := ms(time.Now())
		_, err := w.exec(`UPDATE deliveries SET status = 'canceled', leased_until = NULL, updated_at = ?, completed_at = ?
			WHERE id = ?`, now, now, d.ID)
		return err
	}
	_, err := w.exec(`UPDATE deliveries SET hold = 1, leased_until = NULL WHERE id = ?`, d.ID)
	return err
}

// completeQuery applies one result if its claim is current.
const completeQuery = `UPDATE deliveries SET status = ?, attempts = attempts + 1,
	next_attempt_at = COALESCE(?, next_attempt_at), last_status = ?, last_error = ?, leased_until = NULL,
	updated_at = ?, completed_at = ? WHERE id = ? AND claim = ? AND status = 'pending'
	RETURNING endpoint_id, event_id, event_type, attempts, fifo, hold`

// completeArgs is an AttemptResult encoded outside the writer.
type completeArgs struct {
	r       *store.AttemptResult
	headers string
	next    any // NULL keeps next_attempt_at
}

// completed is what the UPDATE of one result returned.
type completed struct {
	ok                             bool // the claim was current
	endpointID, eventID, eventType string
	attempts                       int
	hold                           int64
}

// completeChunk bounds the results of one multi-row UPDATE and INSERT,
// and so the prepared statements kept for them: one per length up to it.
const completeChunk = 64

// completeMultiQuery applies n results, each if its claim is current, in
// one statement; the VALUES rows are (status, next, last_status,
// last_error, completed_at, id, claim).
func completeMultiQuery(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE deliveries SET status = v.column1, attempts = attempts + 1,
	next_attempt_at = COALESCE(v.column2, next_attempt_at), last_status = v.column3, last_error = v.column4, leased_until = NULL,
	updated_at = ?, completed_at = v.column5
	FROM (VALUES (?, ?, ?, ?, ?, ?, ?)`)
	b.WriteString(strings.Repeat(", (?, ?, ?, ?, ?, ?, ?)", n-1))
	b.WriteString(`) AS v WHERE deliveries.id = v.column6 AND deliveries.claim = v.column7 AND deliveries.status = 'pending'
	RETURNING id, endpoint_id, event_id, event_type, attempts, hold`)
	return b.String()
}

// completeChunks runs the UPDATEs of enc, completeChunk at a time, and
// fills done. The delivery ids of enc are distinct.
func (w *writer) completeChunks(enc []completeArgs, now int64, done []completed) error {
	w.dirty = true
	at := make(map[string]int, min(len(enc), completeChunk))
	args := make([]any, 0, 1+7*min(len(enc), completeChunk))
	for lo := 0; lo < len(enc); lo += completeChunk {
		part := enc[lo:min(lo+completeChunk, len(enc))]
		clear(at)
		args = append(args[:0], now)
		for i, c := range part {
			r := c.r
			var completedAt any
			if r.Status != store.StatusPending {
				completedAt = now
			}
			args = append(args, string(r.Status), c.next, r.Attempt.StatusCode, r.Attempt.Error, completedAt, r.DeliveryID, r.Claim)
			at[r.DeliveryID] = lo + i
		}
		rows, err := w.query(completeMultiQuery(len(part)), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id string
				d  completed
			)
			if err := rows.Scan(&id, &d.endpointID, &d.eventID, &d.eventType, &d.attempts, &d.hold); err != nil {
				rows.Close()
				return err
			}
			i, ok := at[id]
			if !ok {
				rows.Close()
				return fmt.Errorf("complete: returned delivery %s was not asked for", id)
			}
			d.ok = true
			done[i] = d
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
	}
	return nil
}

// completeOne runs the UPDATE of one result and fills d.
func (w *writer) completeOne(c completeArgs, now int64, d *completed) error {
	r := c.r
	var completedAt any
	if r.Status != store.StatusPending {
		completedAt = now
	}
	var fifo int64
	err := w.queryRow(completeQuery,
		string(r.Status), c.next, r.Attempt.StatusCode, r.Attempt.Error, now, completedAt, r.DeliveryID, r.Claim,
	).Scan(&d.endpointID, &d.eventID, &d.eventType, &d.attempts, &fifo, &d.hold)
	w.dirty = true
	if errors.Is(err, sql.ErrNoRows) {
		*d = completed{}
		return nil
	}
	if err != nil {
		return err
	}
	d.ok = true
	return nil
}

// attemptCols is the number of columns insertAttempts writes per attempt.
const attemptCols = 13

// insertAttemptsQuery inserts n attempts.
func insertAttemptsQuery(n int) string {
	return `INSERT INTO attempts (id, delivery_id, endpoint_id, event_id, attempt_number, started_at,
		duration_ns, url, request_headers, status_code, error_message, response_body, trigger_kind)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)` + strings.Repeat(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", n-1)
}

// insertAttempts inserts the attempts of the results done applied,
// completeChunk per statement. An empty Attempt.ID is generated.
func (w *writer) insertAttempts(enc []completeArgs, done []completed) error {
	args := make([]any, 0, attemptCols*min(len(enc), completeChunk))
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		_, err := w.exec(insertAttemptsQuery(len(args)/attemptCols), args...)
		w.dirty = true
		args = args[:0]
		return err
	}
	for i, c := range enc {
		if !done[i].ok {
			continue
		}
		r, d := c.r, &done[i]
		a := &r.Attempt
		id := a.ID
		if id == "" {
			id = w.ids.next("att")
		}
		var body any
		if a.ResponseBody != nil {
			body = a.ResponseBody
		}
		args = append(args, id, r.DeliveryID, d.endpointID, d.eventID, d.attempts, ms(a.StartedAt), int64(a.Duration), a.URL,
			c.headers, a.StatusCode, a.Error, body, a.Trigger)
		if len(args) == attemptCols*completeChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// CompleteAttempts records each result's attempt and applies its new
// status, each only if the delivery's Claim still equals r.Claim and it is
// still pending; other results are skipped and reported by index in lost.
// It maintains each endpoint's FailingSince: set to the attempt's start when
// an attempt does not succeed and it is nil, cleared when one succeeds.
// Attempt.Number, EndpointID and EventID are taken from the delivery; an
// empty Attempt.ID is generated.
func (s *Store) CompleteAttempts(ctx context.Context, results []store.AttemptResult) (lost []int, err error) {
	if len(results) == 0 {
		return nil, nil
	}
	enc := make([]completeArgs, len(results))
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
		enc[i] = completeArgs{r: r, headers: string(b)}
		if r.Status == store.StatusPending {
			enc[i].next = ms(r.NextAttemptAt)
		}
	}
	// A delivery that appears twice is completed one result at a time, so
	// that the second finds the first's outcome, as it would in two calls.
	seen := make(map[string]struct{}, len(enc))
	multi := true
	for _, c := range enc {
		if _, dup := seen[c.r.DeliveryID]; dup {
			multi = false
			break
		}
		seen[c.r.DeliveryID] = struct{}{}
	}
	err = s.write(ctx, func(w *writer) error {
		lost = lost[:0]
		now := ms(time.Now())
		done := make([]completed, len(enc))
		if multi {
			if err := w.completeChunks(enc, now, done); err != nil {
				return err
			}
		} else {
			for i, c := range enc {
				if err := w.completeOne(c, now, &done[i]); err != nil {
					return err
				}
			}
		}
		if err := w.insertAttempts(enc, done); err != nil {
			return err
		}
		for i, c := range enc {
			r := c.r
			if !done[i].ok {
				lost = append(lost, i)
				continue
			}
			a := &r.Attempt
			endpointID, eventID, eventType, attempts, hold := done[i].endpointID, done[i].eventID, done[i].eventType, done[i].attempts, done[i].hold
			e, err := w.endpoint(endpointID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted while the attempt was in flight
			}
			if err != nil {
				return err
			}
			// The operational webhooks this result makes, in the same
			// transaction; none about the operator endpoint's own.
			succeeded := r.Status == store.StatusSucceeded
			if endpointID != store.OperatorEndpointID {
				switch {
				case r.Status == store.StatusFailed:
					if err := w.operational(store.OpDeliveryExhausted, fromMS(now), store.Exhausted(
						endpointID, r.DeliveryID, eventID, eventType, attempts, a.StatusCode, a.Error)); err != nil {
						return err
					}
				case succeeded && e.FailingSince != nil:
					if err := w.operational(store.OpDeliveryRecovered, fromMS(now), store.Recovered(
						endpointID, r.DeliveryID, eventID, eventType, *e.FailingSince, attempts)); err != nil {
						return err
					}
				}
			}
			// The cached endpoint is replaced, not modified: jobs share
			// nothing with it but copies.
			switch {
			case !succeeded && e.FailingSince == nil:
				if _, err := w.exec(`UPDATE endpoints SET failing_since = ? WHERE id = ? AND failing_since IS NULL`,
					ms(a.StartedAt), endpointID); err != nil {
					return err
				}
				c := *e
				c.FailingSince = new(fromMS(ms(a.StartedAt)))
				w.endpoints[endpointID] = &c
			case succeeded && e.FailingSince != nil:
				if _, err := w.exec(`UPDATE endpoints SET failing_since = NULL WHERE id = ?`, endpointID); err != nil {
					return err
				}
				c := *e
				c.FailingSince = nil
				w.endpoints[endpointID] = &c
			}
			switch {
			case !e.FIFO || e.Disabled || hold != 0:
				// A delivery held while in flight (its endpoint was
				// disabled, or turned FIFO behind another) is not the
				// head: its end changes nothing.
			case r.Status != store.StatusPending:
				if err := w.promoteHead(endpointID); err != nil {
					return err
				}
			default:
				if err := w.rehead(endpointID, r.DeliveryID); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("complete attempts: %w", err)
	}
	return lost, nil
}

// releaseQuery makes every unexpired lease due at once, bumping its claim;
// the partial index deliveries_pending limits the scan to the live queue.
const releaseQuery = `UPDATE deliveries INDEXED BY deliveries_pending
	SET next_attempt_at = ?, leased_until = NULL, leased_by = NULL, claim = claim + 1, updated_at = ?
	WHERE status = 'pending' AND leased_until > ?`

// ReleaseLeases makes every pending delivery whose lease is not over at
// now due at now, whichever node leased it, and bumps its claim: the Store
// holds the database's lock file (where the platform has flock), so no
// other process is attempting anything, and the leases found at start are
// those of a process that died (kill -9, a crash, a power cut). Call it
// before claiming or creating anything with this Store: it releases this
// Store's own leases too. A released delivery held back (its endpoint
// disabled, or waiting behind a FIFO head) stays held; a FIFO head stays
// the head.
func (s *Store) ReleaseLeases(ctx context.Context, now time.Time) (int, error) {
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var err error
		n, err = w.exec(releaseQuery, ms(now), ms(now), ms(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release leases: %w", err)
	}
	return int(n), nil
}

// GetDelivery returns the delivery or ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, id string) (*store.Delivery, error) {
	row, err := s.queryRow(ctx, `SELECT `+deliveryCols+` FROM deliveries WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get delivery %s: %w", id, err)
	}
	d, err := scanDelivery(row)
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
	rows, err := s.query(ctx, q, args...)
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

// ListAttempts returns the attempts of a delivery, first attempt first.
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]*store.Attempt, error) {
	rows, err := s.query(ctx, `SELECT `+store.AttemptCols+` FROM attempts WHERE delivery_id = ? ORDER BY attempt_number`, deliveryID)
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
	err := s.write(ctx, func(w *writer) error {
		d = nil
		var (
			status     string
			leased     sql.NullInt64
			endpointID string
			erased     bool
		)
		err := w.queryRow(`SELECT status, leased_until, endpoint_id,
			EXISTS (SELECT 1 FROM events WHERE id = deliveries.event_id AND erased_at IS NOT NULL)
			FROM deliveries WHERE id = ?`, id).
			Scan(&status, &leased, &endpointID, &erased)
		if err != nil {
			return interpretError(err)
		}
		switch {
		case erased:
			return fmt.Errorf("%w: its event is erased", store.ErrConflict)
		case store.DeliveryStatus(status) == store.StatusCanceled:
			return fmt.Errorf("%w: delivery is canceled", store.ErrConflict)
		case store.DeliveryStatus(status) == store.StatusPending && leased.Valid && leased.Int64 > ms(now):
			return fmt.Errorf("%w: delivery is in flight", store.ErrConflict)
		}
		e, err := w.endpoint(endpointID)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: endpoint %s is deleted", store.ErrConflict, endpointID)
		}
		if err != nil {
			return err
		}
		hold := boolInt(e.Disabled || e.FIFO)
		if _, err := w.exec(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, leased_until = NULL,
			completed_at = NULL, updated_at = ?, fifo = ?, hold = ? WHERE id = ?`,
			ms(now), ms(now), boolInt(e.FIFO), hold, id); err != nil {
			return err
		}
		if e.FIFO && !e.Disabled {
			if err := w.rehold(endpointID, false, true, now); err != nil {
				return err
			}
		}
		d, err = scanDelivery(w.queryRow(`SELECT `+deliveryCols+` FROM deliveries WHERE id = ?`, id))
		return err
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
	err := s.write(ctx, func(w *writer) error {
		e, err := w.endpoint(endpointID)
		if err != nil {
			return err
		}
		hold := boolInt(e.Disabled || e.FIFO)
		n, err = w.exec(`UPDATE deliveries SET status = 'pending', next_attempt_at = ?, leased_until = NULL,
			completed_at = NULL, updated_at = ?, fifo = ?, hold = ?
			WHERE endpoint_id = ? AND status = 'failed' AND created_at >= ?
			AND NOT EXISTS (SELECT 1 FROM events WHERE id = deliveries.event_id AND erased_at IS NOT NULL)`,
			ms(now), ms(now), boolInt(e.FIFO), hold, endpointID, ms(since))
		if err != nil || n == 0 {
			return err
		}
		if e.FIFO && !e.Disabled {
			return w.rehold(endpointID, false, true, now)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("replay failed deliveries of %s: %w", endpointID, err)
	}
	return int(n), nil
}

const queueStatsQuery = `SELECT
	(SELECT count(*) FROM deliveries INDEXED BY deliveries_pending WHERE status = 'pending'),
	(SELECT count(*) FROM deliveries INDEXED BY deliveries_due WHERE status = 'pending' AND hold = 0 AND next_attempt_at <= ?),
	(SELECT min(next_attempt_at) FROM deliveries INDEXED BY deliveries_due WHERE status = 'pending' AND hold = 0 AND next_attempt_at <= ?),
	(SELECT count(*) FROM endpoints WHERE disabled = 1)`

// QueueStats measures the queue at now. Due counts the deliveries that can
// be claimed now: those of disabled endpoints, and those waiting behind a
// FIFO head, are pending but not due.
func (s *Store) QueueStats(ctx context.Context, now time.Time) (store.QueueStats, error) {
	var (
		st     store.QueueStats
		oldest sql.NullInt64
	)
	row, err := s.queryRow(ctx, queueStatsQuery, ms(now), ms(now))
	if err == nil {
		err = row.Scan(&st.Pending, &st.Due, &oldest, &st.DisabledEndpoints)
	}
	if err != nil {
		return store.QueueStats{}, fmt.Errorf("queue stats: %w", err)
	}
	if oldest.Valid {
		st.OldestDueAge = max(0, now.Sub(fromMS(oldest.Int64)))
	}
	return st, nil
}

// listDeliveriesQuery builds the query of ListDeliveries, asking for one row
// more than limit.
func listDeliveriesQuery(f store.DeliveryFilter, limit int) (string, []any) {
	where, args := deliveryConds(f)
	return store.IDPageQuery(`SELECT `+deliveryCols+` FROM deliveries`, where, args, f.Cursor, limit, qmark)
}

// deliveryConds returns the conditions f sets, its page aside, with their
// arguments.
func deliveryConds(f store.DeliveryFilter) ([]string, []any) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		where = append(where, cond)
		args = append(args, v)
	}
	if f.Tenant != nil {
		add("tenant = ?", *f.Tenant)
	}
	if f.EventID != "" {
		add("event_id = ?", f.EventID)
	}
	if f.EndpointID != "" {
		add("endpoint_id = ?", f.EndpointID)
	}
	if f.EventType != "" {
		add("event_type = ?", f.EventType)
	}
	switch f.Status {
	case "":
	case store.StatusPending, store.StatusSucceeded, store.StatusFailed, store.StatusCanceled:
		// A literal, so that the partial index deliveries_failed applies.
		where = append(where, "status = '"+string(f.Status)+"'")
	default:
		add("status = ?", string(f.Status))
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", ms(f.Until))
	}
	pw, pa := store.DeliveryPayloadConds(f.Payload, 0, qmark)
	where, args = append(where, pw...), append(args, pa...)
	return where, args
}
