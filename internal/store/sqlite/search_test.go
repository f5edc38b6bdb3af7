package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
)

// searchBase is the creation time of the first seeded event; event i is
// created 10ms after event i-1.
var searchBase = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// searchEvents is how many events TestEventSearchPlans seeds:
// HOOKRELAY_SEARCH_EVENTS (1000000 for docs/performance.md), else 10,000.
func searchEvents(t *testing.T) int {
	n := 10000
	if v := os.Getenv("HOOKRELAY_SEARCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("HOOKRELAY_SEARCH_EVENTS=%q: want a number of at least 1000", v)
		}
	}
	return n
}

// searchCases are the lists that must walk an index at any size, with the
// index each walks, and whether the plan may sort (a type prefix is a
// range of types).
func searchCases(n int) []struct {
	name  string
	f     store.EventFilter
	index string
	sorts bool
} {
	tenant, owner := "t3", "t"+strconv.Itoa(n*7/10%10)
	at := func(i int) time.Time { return searchBase.Add(time.Duration(i) * 10 * time.Millisecond) }
	key, _ := store.ParseFieldValue(strconv.Itoa(n * 7 / 10))
	return []struct {
		name  string
		f     store.EventFilter
		index string
		sorts bool
	}{
		{"payload field", store.EventFilter{Payload: []store.FieldMatch{{Path: "order.id", Key: key}}}, "event_fields_lookup", false},
		{"payload field and tenant", store.EventFilter{Tenant: &owner, Payload: []store.FieldMatch{{Path: "order.id", Key: key}}}, "event_fields_lookup", false},
		{"type and time range", store.EventFilter{Type: "type.7", Since: at(n / 2), Until: at(n/2 + 360000)}, "events_type_created", false},
		{"tenant and status", store.EventFilter{Tenant: &tenant, Status: store.StatusFailed}, "events_tenant_time", false},
		{"tenant, type and time", store.EventFilter{Tenant: &tenant, Type: "type.3", Since: at(n / 2)}, "events_tenant_type_created", false},
		{"time range", store.EventFilter{Since: at(n / 2), Until: at(n/2 + 1000)}, "events_created", false},
		{"all, next page", store.EventFilter{Page: store.Page{Cursor: store.EventCursor(&store.Event{ID: "evt_x", CreatedAt: at(n / 2)})}}, "events_created", false},
		{"endpoint", store.EventFilter{EndpointID: "ep_3"}, "events_created", false},
	}
}

// seedSearch writes n events of 10 tenants and 20 types, each with its
// order.id indexed and one delivery (1 in 97 failed), in SQL: the API
// would take hours at a million. No ANALYZE: the store never runs it,
// so the plans are those the planner picks without statistics.
func seedSearch(t *testing.T, s *Store, n int) {
	t.Helper()
	base := searchBase.UnixMilli()
	cte := fmt.Sprintf(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < %d) `, n-1)
	for _, q := range []string{
		cte + fmt.Sprintf(`INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers, traceparent)
			SELECT printf('evt_%%026d', i), 't' || (i %% 10), 'type.' || (i %% 20), '{"order":{"id":' || i || '}}', NULL, %d + i * 10, '', NULL, '' FROM c`, base),
		cte + fmt.Sprintf(`INSERT INTO event_fields (event_id, path, value_key, created_at)
			SELECT printf('evt_%%026d', i), 'order.id', 'n:' || i, %d + i * 10 FROM c`, base),
		cte + fmt.Sprintf(`INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at, created_at, updated_at, completed_at)
			SELECT printf('dlv_%%026d', i), printf('evt_%%026d', i), 'ep_' || (i %% 10), 't' || (i %% 10), 'type.' || (i %% 20),
				CASE WHEN i %% 97 = 0 THEN 'failed' ELSE 'succeeded' END, 1, %d + i * 10, %d + i * 10, %d + i * 10, %d + i * 10 FROM c`, base, base, base, base),
	} {
		if err := s.write(context.Background(), func(w *writer) error { _, err := w.exec(q); return err }); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
}

// TestEventSearchPlans seeds events and checks that each list of events
// walks the index it was written for, without a full scan or a sort, and
// logs the median time of each (HOOKRELAY_SEARCH_EVENTS=1000000 for the
// figures of docs/performance.md).
func TestEventSearchPlans(t *testing.T) {
	t.Parallel()
	n := searchEvents(t)
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "search.db"), &Config{Cipher: box, SearchFields: []string{"order.id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	seedSearch(t, s, n)
	t.Logf("seeded %d events in %v", n, time.Since(start).Round(time.Millisecond))
	for _, tc := range searchCases(n) {
		q, args, err := store.ListEventsQuery(tc.f, eventCols, 50, qmark)
		if err != nil {
			t.Fatal(err)
		}
		plan := explainSQLite(t, s, q, args)
		if !strings.Contains(plan, "INDEX "+tc.index+" ") && !strings.HasSuffix(plan, "INDEX "+tc.index) && !strings.Contains(plan, "INDEX "+tc.index+"\n") {
			t.Errorf("%s: plan does not use %s:\n%s", tc.name, tc.index, plan)
		}
		for _, l := range strings.Split(plan, "\n") {
			if l == "SCAN e" || l == "SCAN f" || l == "SCAN d" || strings.Contains(l, "TEMP B-TREE") && !tc.sorts {
				t.Errorf("%s: plan scans or sorts:\n%s", tc.name, plan)
			}
		}
		t.Logf("%-26s median %v (%s)", tc.name, medianList(t, s, tc.f), strings.ReplaceAll(plan, "\n", "; "))
	}
	tenant := "t3"
	df := store.DeliveryFilter{Tenant: &tenant, Status: store.StatusFailed}
	t.Logf("%-26s median %v", "deliveries tenant+status", median(t, func() error { _, _, err := s.ListDeliveries(context.Background(), df); return err }))
	vkey, _ := store.ParseFieldValue(strconv.Itoa(n * 7 / 10))
	pf := store.DeliveryFilter{Payload: []store.FieldMatch{{Path: "order.id", Key: vkey}}}
	ds, _, err := s.ListDeliveries(context.Background(), pf)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries by payload: %d, %v", len(ds), err)
	}
	q, args := listDeliveriesQuery(pf, 50)
	if plan := explainSQLite(t, s, q, args); !strings.Contains(plan, "event_fields_lookup") || strings.Contains(plan, "SCAN deliveries\n") {
		t.Errorf("deliveries by payload: plan:\n%s", plan)
	}
	t.Logf("%-26s median %v", "deliveries payload field", median(t, func() error { _, _, err := s.ListDeliveries(context.Background(), pf); return err }))
}

func explainSQLite(t *testing.T, s *Store, q string, args []any) string {
	t.Helper()
	rows, err := s.rdb.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return strings.Join(plan, "\n")
}

// medianList lists the first page of f 7 times and returns the median.
func medianList(t *testing.T, s store.Store, f store.EventFilter) time.Duration {
	return median(t, func() error {
		evs, _, err := s.ListEvents(context.Background(), f)
		if err == nil && len(evs) == 0 {
			err = fmt.Errorf("no event found")
		}
		return err
	})
}

func median(t *testing.T, fn func() error) time.Duration {
	t.Helper()
	var ds []time.Duration
	for range 7 {
		start := time.Now()
		if err := fn(); err != nil {
			t.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[3].Round(time.Microsecond)
}
