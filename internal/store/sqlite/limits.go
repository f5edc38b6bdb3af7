package sqlite

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/hookrelay/hookrelay/internal/store"
)

// Per-endpoint limits kept by the store (store.ClaimParams MaxInFlight and
// RateLimits). The writer makes every claim, one at a time, so reading an
// endpoint's leases or tokens and then claiming needs no lock: nothing
// else can claim in between. The state is the database's, as in the
// PostgreSQL store: the unexpired leases and the endpoint_buckets table,
// so that the limits survive a restart and both stores behave alike.
//
// A claim without limits is ClaimDueDeliveries' one statement, and pays
// nothing for them: there is no index of the leases to keep up (the
// PostgreSQL store's deliveries_leased), which would cost every claim and
// every completion a write. A limited claim costs three or four
// statements: the leases in flight, the candidates, each rate-limited
// endpoint's bucket, and the claim itself. The delivery engine makes such
// claims only on a store shared by several nodes, never on SQLite.

// leasesQuery counts the unexpired leases of every endpoint with one. A
// claim sets next_attempt_at and leased_until to the same time, and every
// write that ends a lease clears leased_until, so the deliveries with a
// lease unexpired at now are among those of the due index not due before
// now: a range scan of the deliveries in flight and of those waiting for a
// retry, each looked up for its lease. (A delivery held while in flight,
// its endpoint disabled or turned FIFO, is not in the index: its endpoint
// cannot be claimed meanwhile beyond its FIFO head.)
const leasesQuery = `SELECT endpoint_id, count(*) FROM deliveries INDEXED BY deliveries_due
	WHERE status = 'pending' AND hold = 0 AND next_attempt_at > ?1 AND leased_until > ?1
	GROUP BY endpoint_id`

// candidatesQuery picks due deliveries as claimQuery does, the endpoints of
// a JSON array left out.
const candidatesQuery = `SELECT id, endpoint_id FROM deliveries INDEXED BY deliveries_due
	WHERE status = 'pending' AND hold = 0 AND next_attempt_at <= ?
		AND endpoint_id NOT IN (SELECT value FROM json_each(?))
	ORDER BY next_attempt_at, id LIMIT ?`

// claimByIDQuery claims the deliveries of a JSON array of ids.
const claimByIDQuery = `UPDATE deliveries SET next_attempt_at = ?, leased_until = ?, leased_by = ?, claim = claim + 1, updated_at = ?
	WHERE id IN (SELECT value FROM json_each(?)) RETURNING ` + deliveryCols

const (
	bucketQuery      = `SELECT tokens, updated_at FROM endpoint_buckets WHERE endpoint_id = ?`
	spendBucketQuery = `INSERT INTO endpoint_buckets (endpoint_id, tokens, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (endpoint_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at`
)

// claim runs ClaimDueDeliveries' statement q, or, when p sets limits,
// claims what they allow instead (claimLimited); either way it returns the
// claimed deliveries as rows of deliveryCols.
func (w *writer) claim(p store.ClaimParams, q string, dynamic bool, args []any) (*sql.Rows, error) {
	if p.MaxInFlight <= 0 && !p.RateLimits {
		return w.queryWrite(q, dynamic, args...)
	}
	return w.claimLimited(p)
}

// claimLimited picks up to p.Limit due deliveries, oldest due first, as
// the plain claim does but for the endpoints at their cap, keeps of each
// endpoint's no more than its cap and its whole tokens allow, spends the
// tokens and claims what it kept.
func (w *writer) claimLimited(p store.ClaimParams) (*sql.Rows, error) {
	now, until := ms(p.Now), ms(p.Now.Add(p.Lease))
	exclude := append([]string{}, p.ExcludeEndpoints...)
	live := map[string]int{}
	if p.MaxInFlight > 0 {
		rows, err := w.query(leasesQuery, now)
		if err != nil {
			return nil, fmt.Errorf("leases in flight: %w", err)
		}
		for rows.Next() {
			var (
				id string
				n  int
			)
			if err := rows.Scan(&id, &n); err != nil {
				rows.Close()
				return nil, fmt.Errorf("leases in flight: %w", err)
			}
			live[id] = n
			if n >= p.MaxInFlight {
				exclude = append(exclude, id)
			}
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return nil, fmt.Errorf("leases in flight: %w", err)
		}
	}
	excluded, err := json.Marshal(exclude)
	if err != nil {
		return nil, err
	}

	type candidate struct{ id, endpoint string }
	var cands []candidate
	rows, err := w.query(candidatesQuery, now, string(excluded), p.Limit)
	if err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}
	for rows.Next() {
		var c candidate
		if err := rows.Scan(&c.id, &c.endpoint); err != nil {
			rows.Close()
			return nil, fmt.Errorf("candidates: %w", err)
		}
		cands = append(cands, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("candidates: %w", err)
	}

	// What each endpoint may take, and the buckets to write back.
	slots := map[string]int{}
	buckets := map[string]*filledBucket{}
	for _, c := range cands {
		if _, ok := slots[c.endpoint]; ok {
			continue
		}
		n := math.MaxInt
		if p.MaxInFlight > 0 {
			n = p.MaxInFlight - live[c.endpoint]
		}
		if p.RateLimits {
			b, err := w.bucket(c.endpoint, now)
			if err != nil {
				return nil, err
			}
			if b != nil {
				n = min(n, int(b.tokens))
				buckets[c.endpoint] = b
			}
		}
		slots[c.endpoint] = n
	}
	ids := make([]string, 0, len(cands))
	for _, c := range cands {
		if slots[c.endpoint] > 0 {
			slots[c.endpoint]--
			ids = append(ids, c.id)
			if b := buckets[c.endpoint]; b != nil {
				b.tokens--
			}
		}
	}
	for id, b := range buckets {
		if _, err := w.exec(spendBucketQuery, id, b.tokens, b.at); err != nil {
			return nil, fmt.Errorf("spend tokens of %s: %w", id, err)
		}
	}
	chosen, err := json.Marshal(ids)
	if err != nil {
		return nil, err
	}
	return w.queryWrite(claimByIDQuery, false, until, until, w.s.node, now, string(chosen))
}

// filledBucket is an endpoint's token bucket refilled to a moment.
type filledBucket struct {
	tokens float64
	at     int64 // the bucket's new updated_at
}

// bucket returns the token bucket of a rate-limited endpoint refilled to
// now, or nil if the endpoint has no rate limit (or no longer exists). A
// bucket never stored is full. Time going back (a clock stepped back)
// refills nothing and keeps the later updated_at.
func (w *writer) bucket(endpointID string, now int64) (*filledBucket, error) {
	e, err := w.endpoint(endpointID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if e.RateLimit <= 0 {
		return nil, nil
	}
	burst := store.RateBurst(e.RateLimit)
	var (
		tokens float64
		at     int64
	)
	switch err := w.queryRow(bucketQuery, endpointID).Scan(&tokens, &at); {
	case errors.Is(err, sql.ErrNoRows):
		return &filledBucket{tokens: burst, at: now}, nil
	case err != nil:
		return nil, fmt.Errorf("token bucket of %s: %w", endpointID, err)
	}
	if now > at {
		tokens += e.RateLimit * float64(now-at) / 1000
		at = now
	}
	return &filledBucket{tokens: min(tokens, burst), at: at}, nil
}
