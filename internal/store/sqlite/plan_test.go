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
	}{
		{"claim", claimQueryPlain, "deliveries_due"},
		{"claim excluding", claimQuery(3), "deliveries_due"},
		{"complete", completeQuery, "PRIMARY KEY"},
		{"fifo head", headQuery, "deliveries_pending"},
		{"promote head", `UPDATE deliveries SET hold = 0 WHERE id = (` + headQuery + `) AND hold = 1`, "deliveries_pending"},
		{"cancel", `UPDATE deliveries SET status = 'canceled' WHERE endpoint_id = ? AND status = 'pending'`, "deliveries_pending"},
		{"queue stats", queueStatsQuery, "deliveries_due"},
		{"list all", list(store.DeliveryFilter{}), ""},
		{"list by endpoint", list(store.DeliveryFilter{EndpointID: "e", Page: store.Page{Cursor: "dlv_x"}}), "deliveries_endpoint"},
		{"list by event", list(store.DeliveryFilter{EventID: "e"}), "deliveries_event"},
		{"list by tenant", list(store.DeliveryFilter{Tenant: &tenant}), "deliveries_tenant"},
		{"list failed", list(store.DeliveryFilter{Status: store.StatusFailed}), "deliveries_failed"},
		{"list pending", list(store.DeliveryFilter{Status: store.StatusPending}), ""},
		{"list by tenant, status and time", list(store.DeliveryFilter{Tenant: &tenant, Status: store.StatusFailed, Since: time.Now()}), ""},
		{"attempts", `SELECT id FROM attempts WHERE delivery_id = ? ORDER BY attempt_number`, "sqlite_autoindex_attempts_1"},
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
		if strings.Contains(text, "TEMP B-TREE") || tc.index != "" && strings.Contains(text+"\n", "SCAN deliveries\n") {
			t.Errorf("%s: plan sorts or scans:\n%s", tc.name, text)
		}
		if tc.index != "" && !strings.Contains(text+"\n", "INDEX "+tc.index+" ") && !strings.Contains(text+"\n", "INDEX "+tc.index+"\n") && !strings.Contains(text, "USING "+tc.index+" ") {
			t.Errorf("%s: plan does not use %s:\n%s", tc.name, tc.index, text)
		}
	}
}
