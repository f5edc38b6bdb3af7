package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// TestQuery lets the tests read the store's tables directly.
func (s *Store) TestQuery(ctx context.Context, q string, args ...any) (pgx.Rows, error) {
	return s.pool.Query(ctx, q, args...)
}

// Queries are the queue's statements, for TestQueryPlans, with arguments
// of the right types.
var Queries = []struct {
	Name, Query string
	Args        []any
	Index       string // the index the plan must use; a|b for either
}{
	{"claim", claimQuery, []any{int64(0), []string{}, 100, int64(0), "node-a"}, "deliveries_due"},
	{"claim excluding", claimQuery, []any{int64(0), []string{"ep_a", "ep_b"}, 100, int64(0), "node-a"}, "deliveries_due"},
	{"release leases", releaseQuery, []any{int64(0), "node-a"}, "deliveries_leased"},
	{"pick (limited claim)", pickQuery, pickArgs, "deliveries_due"},
	{"pick (limited claim): leases", pickQuery, pickArgs, "deliveries_leased"},
	{"pick (limited claim): locks by id", pickQuery, pickArgs, "deliveries_pkey"},
	{"limited claim", limitedClaimQuery, []any{[]string{"dlv_a"}, []string{"ep_a"}, int64(0), int64(0), int32(32), true, 0.1, []int32{1}, "node-a"}, "deliveries_leased"},
	{"complete", completeQuery, []any{[]string{"dlv_a"}, []int64{1}, []string{"succeeded"}, []*int64{nil}, []int32{200}, []string{""}, int64(0)}, "deliveries_pkey"},
	{"fifo head", headQuery, []any{"ep_a"}, "deliveries_pending"},
	{"newest pending", newestPendingQuery, []any{[]string{"ep_a"}}, "deliveries_pending"},
	{"promote heads", promoteQuery, []any{[]string{"ep_a"}}, "deliveries_pending"},
	{"cancel", `UPDATE deliveries SET status = 'canceled' WHERE endpoint_id = $1 AND status = 'pending'`, []any{"ep_a"}, "deliveries_pending"},
	{"queue stats", queueStatsQuery, []any{int64(0)}, "deliveries_due"},
	{"attempts", `SELECT id FROM attempts WHERE delivery_id = $1 ORDER BY attempt_number`, []any{"dlv_a"}, "attempts_delivery_id_attempt_number_key"},
	{"endpoint health", healthQuery, []any{[]string{"ep_1", "ep_2"}, 20}, "attempts_endpoint"},
	{"histogram", `SELECT (created_at - $3) / $4, count(*) FILTER (WHERE status = 'succeeded')
		FROM deliveries WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`, []any{int64(100), int64(200), int64(100), int64(10)}, "deliveries_created"},
	{"prune attempts", pruneAttemptsPick, []any{"", int32(0), int64(1 << 50), 1000}, "attempts_delivery_id_attempt_number_key"},
	{"prune deliveries", pruneDeliveriesPick, []any{"", int64(1 << 50), 1000}, "deliveries_pkey"},
	{"prune keys", pruneKeysPick, []any{"", "", int64(1 << 50), 1000}, "idempotency_keys_pkey"},
	{"prune events", pruneEventsPick, []any{"", int64(1 << 50), 1000}, "events_pkey"},
}

var pickArgs = []any{int64(0), []string{"ep_a"}, 100, int32(32), nsClaim, true, 0.1}

// SortsCandidates names the queries whose plans may sort: the candidates
// of a limited claim, never more than its limit of rows.
var SortsCandidates = map[string]bool{"pick (limited claim)": true, "pick (limited claim): leases": true,
	"pick (limited claim): locks by id": true}

// ListDeliveriesQuery is listDeliveriesQuery.
var ListDeliveriesQuery = listDeliveriesQuery

// SeedHistory fills the tables with a history of 50,000 deliveries (a
// tenth pending, some held, 1% failed) of 100 endpoints and 10 tenants,
// each of its own event, with one attempt each and an idempotency key for
// some, and has PostgreSQL analyze them.
func (s *Store) SeedHistory(ctx context.Context) error {
	_, err := s.pool.Exec(ctx, `
			INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at)
			SELECT 'evt_' || lpad(i::text, 26, '0'), 't' || (i % 10), 'a', '{}', CASE WHEN i % 7 = 0 THEN 'k' || i END, i
			FROM generate_series(1, 50000) AS i;
			INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at)
			SELECT tenant, idempotency_key, id, created_at FROM events WHERE idempotency_key IS NOT NULL;
			INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at, hold,
				created_at, updated_at, completed_at)
			SELECT 'dlv_' || lpad(i::text, 26, '0'), 'evt_' || lpad(i::text, 26, '0'), 'ep_' || (i % 100), 't' || (i % 10), 'a',
				CASE WHEN i % 10 = 0 THEN 'pending' WHEN i % 97 = 0 THEN 'failed' ELSE 'succeeded' END, 1, i, i % 30 = 0,
				i, i, CASE WHEN i % 10 <> 0 THEN i END
			FROM generate_series(1, 50000) AS i;
			INSERT INTO attempts (id, delivery_id, endpoint_id, event_id, attempt_number, started_at, duration_ns, url,
				request_headers, status_code, error_message, trigger_kind)
			SELECT 'att_' || id, id, endpoint_id, event_id, 1, created_at, 0, '', '{}', 200, '', 'scheduled' FROM deliveries;
			ANALYZE`)
	return err
}

// Explain returns the plan of q.
func (s *Store) Explain(ctx context.Context, q string, args ...any) (string, error) {
	rows, err := s.pool.Query(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		return "", err
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(plan, "\n"), err
}

// GenericPlans are the statements claims run on their generic plans
// (genericPlan), with arguments of the right types as SQL literals, and
// the indexes the plan must use.
var GenericPlans = []struct {
	Name, Query, Args string
	Indexes           []string
}{
	{"pick (limited claim)", pickQuery, fmt.Sprintf(`0, '{ep_a}', 100, 32, %d, true, 0.1`, nsClaim),
		[]string{"deliveries_due", "deliveries_leased", "deliveries_pkey"}},
	{"limited claim", limitedClaimQuery, `'{dlv_a}', '{ep_a}', 0, 0, 32, true, 0.1, '{1}', 'node-a'`,
		[]string{"deliveries_leased", "deliveries_pkey"}},
}

// ExplainGeneric returns the generic plan of q, which PostgreSQL makes
// without the arguments, run with args (SQL literals).
func (s *Store) ExplainGeneric(ctx context.Context, q, args string) (string, error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer c.Release()
	if _, err := c.Exec(ctx, "SET plan_cache_mode = force_generic_plan"); err != nil {
		return "", err
	}
	defer c.Exec(context.Background(), "RESET plan_cache_mode; DEALLOCATE ALL")
	if _, err := c.Exec(ctx, "PREPARE generic_plan AS "+q); err != nil {
		return "", err
	}
	rows, err := c.Query(ctx, "EXPLAIN EXECUTE generic_plan("+args+")", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(plan, "\n"), err
}
