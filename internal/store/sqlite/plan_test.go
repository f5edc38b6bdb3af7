package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestQueryPlans pins the plans of the queue's queries: each must search the
// index it was written for and never sort, so that their cost does not grow
// with the queue or the history.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	tenant := "t"
	list := func(f store.DeliveryFilter) string { q, _ := listDeliveriesQuery(f, 50); return q }
	for _, tc := range []struct {
		name, query, index string
		group              bool // GROUP BY an expression: the plan sorts
	}{
		{"claim", claimQueryPlain, "deliveries_due", false},
		{"claim excluding", claimQuery(3), "deliveries_due", false},
		{"limited claim: leases", leasesQuery, "deliveries_due", true},
		{"limited claim: candidates", candidatesQuery, "deliveries_due", false},
		{"limited claim: claim", claimByIDQuery, "PRIMARY KEY", false},
		{"limited claim: bucket", bucketQuery, "PRIMARY KEY", false},
		{"complete", completeQuery, "PRIMARY KEY", false},
		{"fifo head", headQuery, "deliveries_pending", false},
		{"promote head", `UPDATE deliveries SET hold = 0 WHERE id = (` + headQuery + `) AND hold = 1`, "deliveries_pending", false},
		{"cancel", `UPDATE deliveries SET status = 'canceled' WHERE endpoint_id = ? AND status = 'pending'`, "deliveries_pending", false},
		{"queue stats", queueStatsQuery, "deliveries_due", false},
		{"list all", list(store.DeliveryFilter{}), "", false},
		{"list by endpoint", list(store.DeliveryFilter{EndpointID: "e", Page: store.Page{Cursor: "dlv_x"}}), "deliveries_endpoint", false},
		{"list by event", list(store.DeliveryFilter{EventID: "e"}), "deliveries_event", false},
		{"list by tenant", list(store.DeliveryFilter{Tenant: &tenant}), "deliveries_tenant", false},
		{"list failed", list(store.DeliveryFilter{Status: store.StatusFailed}), "deliveries_failed", false},
		{"list pending", list(store.DeliveryFilter{Status: store.StatusPending}), "", false},
		{"list by tenant, status and time", list(store.DeliveryFilter{Tenant: &tenant, Status: store.StatusFailed, Since: time.Now()}), "", false},
		{"attempts", `SELECT id FROM attempts WHERE delivery_id = ? ORDER BY attempt_number`, "sqlite_autoindex_attempts_1", false},
		{"endpoint health", healthPart + " UNION ALL " + healthPart, "attempts_endpoint", false},
		{"histogram", `SELECT (created_at - ?) / ?, sum(status = 'pending') FROM deliveries INDEXED BY deliveries_created
			WHERE tenant = ? AND created_at >= ? AND created_at < ? GROUP BY 1`, "deliveries_created", true},
		{"prune attempts", pruneAttemptsPick, "INTEGER PRIMARY KEY", false},
		{"prune deliveries", pruneDeliveriesPick, "PRIMARY KEY", false},
		{"delete deliveries", pruneDeliveries, "PRIMARY KEY", false},
		{"delete their attempts", pruneDeliveryAttempts, "sqlite_autoindex_attempts_1", false},
		{"prune keys", pruneKeysPick, "sqlite_autoindex_idempotency_keys_1", false},
		{"delete keys", pruneKeys, "sqlite_autoindex_idempotency_keys_1", false},
		{"prune events", pruneEventsPick, "sqlite_autoindex_events_1", false},
		{"delete events", pruneEvents, "sqlite_autoindex_events_1", false},
	} {
		rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+tc.query, make([]any, strings.Count(tc.query, "?"))...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		if strings.Contains(text, "TEMP B-TREE") && !tc.group || tc.index != "" && strings.Contains(text+"\n", "SCAN deliveries\n") ||
			strings.Contains(text+"\n", "SCAN attempts\n") || strings.Contains(text+"\n", "SCAN events\n") {
			t.Errorf("%s: plan sorts or scans:\n%s", tc.name, text)
		}
		if tc.index != "" && !strings.Contains(text+"\n", "INDEX "+tc.index+" ") && !strings.Contains(text+"\n", "INDEX "+tc.index+"\n") && !strings.Contains(text, "USING "+tc.index+" ") {
			t.Errorf("%s: plan does not use %s:\n%s", tc.name, tc.index, text)
		}
	}
}
