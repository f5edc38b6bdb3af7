package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
)

// TestEventSearchPlans seeds events (10,000, or HOOKRELAY_SEARCH_EVENTS:
// 1000000 for the figures of docs/performance.md) and checks with EXPLAIN
// that each list of events walks one of the indexes written for it, never
// a sequential scan of events, event_fields or deliveries; it logs the
// median time of each.
func TestEventSearchPlans(t *testing.T) {
	t.Parallel()
	n := 10000
	if v := os.Getenv("HOOKRELAY_SEARCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			t.Fatalf("HOOKRELAY_SEARCH_EVENTS=%q: want a number of at least 1000", v)
		}
	}
	ctx := context.Background()
	s, err := postgres.Open(ctx, freshSchema(t), &postgres.Config{Cipher: newCipher(t), MaxConns: 2, SearchFields: []string{"order.id"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	start := time.Now()
	if err := s.SeedSearch(ctx, n, base); err != nil {
		t.Fatalf("seed: %v", err)
	}
	t.Logf("seeded %d events in %v", n, time.Since(start).Round(time.Millisecond))
	at := func(i int) time.Time { return base.Add(time.Duration(i) * 10 * time.Millisecond) }
	tenant, owner := "t3", "t"+strconv.Itoa(n*7/10%10)
	key, _ := store.ParseFieldValue(strconv.Itoa(n * 7 / 10))
	byOrder := []store.FieldMatch{{Path: "order.id", Key: key}}
	for _, tc := range []struct {
		name    string
		f       store.EventFilter
		indexes []string // any of them
	}{
		{"payload field", store.EventFilter{Payload: byOrder}, []string{"event_fields_lookup"}},
		{"payload field and tenant", store.EventFilter{Tenant: &owner, Payload: byOrder}, []string{"event_fields_lookup"}},
		{"type and time range", store.EventFilter{Type: "type.7", Since: at(n / 2), Until: at(n/2 + 360000)}, []string{"events_type_created", "events_created"}},
		{"tenant and status", store.EventFilter{Tenant: &tenant, Status: store.StatusFailed}, []string{"events_tenant_time", "events_tenant_type_created"}},
		{"tenant, type and time", store.EventFilter{Tenant: &tenant, Type: "type.3", Since: at(n / 2)}, []string{"events_tenant_type_created", "events_type_created"}},
		{"time range", store.EventFilter{Since: at(n / 2), Until: at(n/2 + 1000)}, []string{"events_created"}},
		{"all", store.EventFilter{}, []string{"events_created"}},
		{"endpoint", store.EventFilter{EndpointID: "ep_3"}, []string{"events_created"}},
	} {
		q, args, err := postgres.ListEventsQuery(tc.f, 50)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := s.Explain(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: explain: %v", tc.name, err)
		}
		if !slices.ContainsFunc(tc.indexes, func(ix string) bool { return strings.Contains(plan, " "+ix+" ") || strings.Contains(plan, " "+ix+"\n") }) {
			t.Errorf("%s: plan uses none of %v:\n%s", tc.name, tc.indexes, plan)
		}
		// PostgreSQL may sort what a bitmap scan of an index found when it
		// expects few rows (it costs the plans by its statistics); it must
		// never scan a whole table, and a payload lookup never sorts.
		if strings.Contains(plan, "Seq Scan on events") || strings.Contains(plan, "Seq Scan on event_fields") ||
			strings.Contains(plan, "Seq Scan on deliveries") || len(tc.f.Payload) > 0 && strings.Contains(plan, "Sort") {
			t.Errorf("%s: plan scans or sorts:\n%s", tc.name, plan)
		}
		t.Logf("%-26s plan: %s", tc.name, strings.Join(strings.Fields(plan), " "))
		t.Logf("%-26s median %v", tc.name, pgMedian(t, func() error {
			evs, _, err := s.ListEvents(ctx, tc.f)
			if err == nil && len(evs) == 0 {
				err = fmt.Errorf("no event found")
			}
			return err
		}))
	}
	df := store.DeliveryFilter{Tenant: &tenant, Status: store.StatusFailed}
	t.Logf("%-26s median %v", "deliveries tenant+status", pgMedian(t, func() error { _, _, err := s.ListDeliveries(ctx, df); return err }))
	pf := store.DeliveryFilter{Payload: byOrder}
	ds, _, err := s.ListDeliveries(ctx, pf)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deliveries by payload: %d, %v", len(ds), err)
	}
	q, args := postgres.ListDeliveriesQuery(pf, 50)
	if plan, err := s.Explain(ctx, q, args...); err != nil || !strings.Contains(plan, "event_fields_lookup") || strings.Contains(plan, "Seq Scan") {
		t.Errorf("deliveries by payload: %v, plan:\n%s", err, plan)
	}
	t.Logf("%-26s median %v", "deliveries payload field", pgMedian(t, func() error { _, _, err := s.ListDeliveries(ctx, pf); return err }))
}

func pgMedian(t *testing.T, fn func() error) time.Duration {
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
