package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// Per-endpoint limits across nodes (store.ClaimParams MaxInFlight and
// RateLimits).
//
// The limits are shared state: the number of an endpoint's unexpired
// leases, which every node's claims add to, and the endpoint's token
// bucket. Two claims that each read that state and then claim would, under
// READ COMMITTED, each miss the other's uncommitted claims, and together go
// past the limit. So a limited claim first takes, per endpoint, a claim
// lock, and only then, in a later statement, reads the state and claims:
//
//  1. pickQuery picks candidates among the oldest due, leaving out what
//     would go past an endpoint's cap or tokens as its snapshot sees them,
//     locks them FOR UPDATE SKIP LOCKED, and tries the claim lock
//     (nsClaim) of each candidate's endpoint without waiting. A candidate whose endpoint's lock another claim
//     holds is dropped: that claim is deciding for the endpoint, and the
//     next claim will see what it decided. Endpoints never wait for one
//     another, as rows never do with SKIP LOCKED.
//  2. limitedClaimQuery, a new statement and so a new snapshot, taken
//     after the locks were granted: it counts each endpoint's unexpired
//     leases, refills its bucket, keeps of its candidates, in due order, no
//     more than the cap and the whole tokens allow, spends the tokens and
//     claims what it kept.
//
// Why that is enough: every claim that adds leases of an endpoint or spends
// its tokens holds the endpoint's claim lock from before it reads them until
// it commits, and PostgreSQL releases a transaction's locks only once its
// commit is visible to new snapshots. So the claims of one endpoint run one
// at a time, each reading, in step 2, everything the previous ones
// committed. Other writers only lower the count (completions clear
// leased_until, a retry needs an expired lease), which at worst makes a
// claim take fewer than it might. The lock is per endpoint, keyed by a hash,
// so two endpoints may share one, which costs only some concurrency.
//
// Step 1's view of the limits is from its own snapshot, possibly a little
// stale; it only spares the locks of candidates that step 2 would drop
// (without it, a claim after a few completions would lock 256 rows of a
// busy endpoint's backlog to take a few), so it may be wrong either way
// without harm. It costs a scan of the leases in flight
// (deliveries_leased), a few thousand index entries at most, and a sort
// of the candidates. Claimers on several nodes that pick at the same
// moment may want the same rows: the later ones skip those the first
// locked, and take less.
//
// A limited claim is thus two round trips (BEGIN travels with the first,
// COMMIT with the second) instead of one statement.

// filledCTE is the body of a CTE of the token buckets of the rate-limited
// endpoints among those of CTE eps (column endpoint_id), refilled to now:
// rate_limit tokens a second since updated_at, up to greatest(1,
// rate_limit * window) (store.RateBurst), a bucket never stored being
// full; its new updated_at is at. It is empty unless on is true. now, on
// and window are the statement's parameters ($n) for them.
func filledCTE(eps, now, on, window string) string {
	burst := `greatest(1, e.rate_limit * ` + window + `::float8)`
	return `SELECT e.id AS endpoint_id,
			least(` + burst + `,
				coalesce(b.tokens + e.rate_limit * greatest(0, ` + now + ` - b.updated_at) / 1000.0, ` + burst + `)) AS tokens,
			greatest(` + now + `, b.updated_at) AS at
		FROM ` + eps + ` JOIN endpoints AS e ON e.id = ` + eps + `.endpoint_id
			LEFT JOIN endpoint_buckets AS b ON b.endpoint_id = e.id
		WHERE ` + on + `::bool AND e.rate_limit > 0`
}

// pickQuery picks candidates for a limited claim at $1: of the first $3
// due deliveries, in due order, as claimQuery scans them (leaving out the
// endpoints of $2 and those with $4 or more leases unexpired at $1, if $4
// is positive), no more per endpoint than its cap and, if $6, its whole
// tokens (burst window $7) allow, as this statement's snapshot sees them.
// Only those it locks, FOR UPDATE SKIP LOCKED, so that a claim does not
// lock a busy endpoint's backlog to take a few of it. Then it tries the
// claim lock (namespace $5) of each of their endpoints, and returns those
// whose endpoint's lock it got, with when they were due. The trimming here
// only spares locks: limitedClaimQuery decides, under the claim locks.
// The rows are locked by id alone, so that the lock follows the index of
// ids whatever the planner makes of the due range; FOR UPDATE returns
// each row as the last commit left it, and a row another claim took
// meanwhile is dropped by the test of picked, that of the due index.
var pickQuery = `WITH live AS (
		SELECT endpoint_id, count(*) AS n FROM deliveries
		WHERE $4::int > 0 AND leased_until > $1
		GROUP BY endpoint_id
	),
	due AS (
		SELECT id, endpoint_id, next_attempt_at FROM deliveries
		WHERE status = 'pending' AND NOT hold AND next_attempt_at <= $1 AND endpoint_id <> ALL($2::text[])
			AND endpoint_id NOT IN (SELECT endpoint_id FROM live WHERE n >= $4::int)
		ORDER BY next_attempt_at, id
		LIMIT $3
	),
	eps AS (SELECT DISTINCT endpoint_id FROM due),
	filled AS (` + filledCTE("eps", "$1", "$6", "$7") + `),
	slots AS (
		SELECT eps.endpoint_id,
			least(CASE WHEN $4::int > 0 THEN $4::int - coalesce(live.n, 0) END, floor(f.tokens)) AS n
		FROM eps LEFT JOIN live USING (endpoint_id) LEFT JOIN filled AS f USING (endpoint_id)
	),
	wanted AS (
		SELECT d.id
		FROM (SELECT id, endpoint_id, row_number() OVER (PARTITION BY endpoint_id ORDER BY next_attempt_at, id) AS r
			FROM due) AS d
		JOIN slots AS s USING (endpoint_id)
		WHERE s.n IS NULL OR d.r <= s.n
	),
	locked_rows AS MATERIALIZED (
		SELECT id, endpoint_id, next_attempt_at, status, hold FROM deliveries
		WHERE id = ANY (ARRAY(SELECT id FROM wanted))
		FOR UPDATE SKIP LOCKED
	),
	picked AS (
		SELECT id, endpoint_id, next_attempt_at FROM locked_rows
		WHERE status = 'pending' AND NOT hold AND next_attempt_at <= $1
	),
	locked AS MATERIALIZED (
		SELECT endpoint_id FROM (SELECT DISTINCT endpoint_id FROM picked) AS e
		WHERE pg_try_advisory_xact_lock($5::int4, hashtext(endpoint_id))
	)
	SELECT p.id, p.endpoint_id, p.next_attempt_at FROM picked AS p JOIN locked USING (endpoint_id)`

// limitedClaimQuery claims, of the candidates $1 (endpoints $2, ranks
// among their endpoint's candidates in due order $8, from 1), what the
// limits of their endpoints allow at $3: at most $5 (if positive) minus
// the endpoint's leases unexpired at $3, and, if $6, at most its whole
// tokens (burst window $7). It spends a token per delivery claimed,
// leases the claimed ones until $4 to node $9 and returns them as
// claimQuery does.
// least and greatest ignore NULLs: an endpoint with neither limit keeps
// every candidate.
var limitedClaimQuery = `WITH cand AS (
		SELECT id, endpoint_id, r FROM unnest($1::text[], $2::text[], $8::int4[]) AS c(id, endpoint_id, r)
	),
	live AS (
		SELECT e.endpoint_id,
			(SELECT count(*) FROM deliveries AS l WHERE l.endpoint_id = e.endpoint_id AND l.leased_until > $3) AS n
		FROM (SELECT DISTINCT endpoint_id FROM cand) AS e
	),
	filled AS (` + filledCTE("live", "$3", "$6", "$7") + `),
	slots AS (
		SELECT l.endpoint_id, least(CASE WHEN $5::int > 0 THEN $5::int - l.n END, floor(f.tokens)) AS n
		FROM live AS l LEFT JOIN filled AS f USING (endpoint_id)
	),
	chosen AS MATERIALIZED (
		SELECT c.id, c.endpoint_id FROM cand AS c JOIN slots AS s USING (endpoint_id)
		WHERE s.n IS NULL OR c.r <= s.n
	),
	spent AS (
		INSERT INTO endpoint_buckets AS b (endpoint_id, tokens, updated_at)
		SELECT f.endpoint_id, f.tokens - (SELECT count(*) FROM chosen WHERE chosen.endpoint_id = f.endpoint_id), f.at
		FROM filled AS f
		ON CONFLICT (endpoint_id) DO UPDATE SET tokens = excluded.tokens, updated_at = excluded.updated_at
	)
	UPDATE deliveries AS d SET next_attempt_at = $4, leased_until = $4, leased_by = $9, claim = d.claim + 1, updated_at = $3
	FROM chosen, endpoints AS e, events AS ev
	WHERE d.id = chosen.id AND e.id = d.endpoint_id AND ev.id = d.event_id
	` + claimReturning

// genericPlan makes the rest of a transaction run its prepared statements
// on their generic plans, made once per connection. Left to choose,
// PostgreSQL kept planning limitedClaimQuery afresh at most claims (its
// custom plans look cheaper than the generic one, which does not know the
// candidates' count): about 2 ms of planning a claim against 0.45 ms of
// execution, and pickQuery at a third to a half of its calls (bench runs
// of 10,000 deliveries, pg_stat_statements with track_planning: about 2 s
// of planning a run before, 0.3–0.5 s after). Neither plan depends on the arguments: candidates are found by
// primary key, due ones by deliveries_due and leases by deliveries_leased
// whatever they are (TestQueryPlans checks the generic plans).
const genericPlan = `SET LOCAL plan_cache_mode = force_generic_plan`

// claimLimited is ClaimDueDeliveries with p.MaxInFlight or p.RateLimits,
// in one transaction of two round trips (see the comment at the top of
// this file).
func (s *Store) claimLimited(ctx context.Context, p store.ClaimParams) ([]*store.Job, error) {
	exclude := p.ExcludeEndpoints
	if exclude == nil {
		exclude = []string{}
	}
	maxInFlight := int32(min(max(p.MaxInFlight, 0), 1<<30))
	now, until := ms(p.Now), ms(p.Now.Add(p.Lease))

	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	tx := &pipeTx{conn: c.Conn(), log: s.log}
	defer tx.end()

	type candidate struct {
		id, endpoint string
		due          int64
	}
	var cands []candidate
	err = tx.batch(ctx, false, func(b *pgx.Batch) {
		b.Queue(genericPlan)
		b.Queue(pickQuery, now, exclude, p.Limit, maxInFlight, nsClaim, p.RateLimits, store.RateBurstWindow.Seconds())
	}, func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c candidate
			if err := rows.Scan(&c.id, &c.endpoint, &c.due); err != nil {
				return err
			}
			cands = append(cands, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pick: %w", err)
	}
	if len(cands) == 0 {
		return nil, nil // end rolls back, releasing the row locks
	}
	// Due order, and each candidate's rank among its endpoint's: the
	// limits keep an endpoint's oldest due.
	slices.SortFunc(cands, func(a, b candidate) int {
		return cmp.Or(cmp.Compare(a.due, b.due), cmp.Compare(a.id, b.id))
	})
	ids := make([]string, len(cands))
	endpoints := make([]string, len(cands))
	ranks := make([]int32, len(cands))
	seen := map[string]int32{}
	for i, c := range cands {
		seen[c.endpoint]++
		ids[i], endpoints[i], ranks[i] = c.id, c.endpoint, seen[c.endpoint]
	}
	var jobs []*store.Job
	err = tx.batch(ctx, true, func(b *pgx.Batch) {
		b.Queue(limitedClaimQuery, ids, endpoints, now, until, maxInFlight, p.RateLimits,
			store.RateBurstWindow.Seconds(), ranks, s.node)
	}, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		jobs, err = s.scanJobs(rows, p.Now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return jobs, nil
}
