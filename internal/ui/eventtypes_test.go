package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func TestEventTypePages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	now := b.clock.Now()
	for _, et := range []*store.EventType{
		{Name: "invoice.paid", Description: "Paid <b>now</b>", Schema: []byte(`{"type":"object","required":["id"]}`), Example: []byte(`{"id":"in_1"}`), Enforce: true},
		{Name: "invoice.voided", Deprecated: true},
		{Name: "ping"},
	} {
		et.CreatedAt, et.UpdatedAt = now, now
		if err := b.st.CreateEventType(ctx, et); err != nil {
			t.Fatal(err)
		}
	}
	a := b.admin()
	r := a.get("/ui/event-types")
	if r.status != http.StatusOK {
		t.Fatalf("GET /ui/event-types: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"invoice.*", "invoice.paid", "invoice.voided", "deprecated", "enforced", "Without a group", "Paid &lt;b&gt;now&lt;/b&gt;"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("catalog page lacks %q", want)
		}
	}
	if r := a.get("/ui/event-types?prefix=invoice."); strings.Contains(r.body, ">ping<") || !strings.Contains(r.body, "invoice.paid") {
		t.Errorf("prefix filter: %s", r.body)
	}
	r = a.get("/ui/event-types/invoice.paid")
	if r.status != http.StatusOK || !strings.Contains(r.body, "&#34;required&#34;: [") || !strings.Contains(r.body, "enforced") {
		t.Errorf("event type page: %d\n%s", r.status, r.body)
	}
	if r := a.get("/ui/event-types/nope"); r.status != http.StatusNotFound {
		t.Errorf("unknown type: %d", r.status)
	}

	// The endpoint forms of the dashboard and the portal offer the
	// catalog's types and groups.
	b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "acme's")
	for who, c := range map[string]*client{"admin": a, "portal": b.portal("acme")} {
		r := c.get("/ui/endpoints/new")
		if r.status != http.StatusOK {
			t.Fatalf("%s: new endpoint form: %d", who, r.status)
		}
		for _, want := range []string{`list="catalog-types"`, `<option value="invoice.*">`, `<option value="invoice.paid">`, `<option value="ping">`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s: the endpoint form lacks %s", who, want)
			}
		}
		if r := c.get("/ui/event-types"); r.status != http.StatusOK || !strings.Contains(r.body, "invoice.paid") {
			t.Errorf("%s: catalog page: %d", who, r.status)
		}
	}
}

// TestEndpointPageStats: the endpoint page shows the figures of the API's
// /stats for the last hour and day.
func TestEndpointPageStats(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint("", "http://127.0.0.1:9/hook", "stats")
	if _, _, err := b.st.CreateEvent(ctx, &store.Event{ID: store.NewID("evt"), Type: "a.b", Payload: []byte(`{}`), CreatedAt: b.clock.Now()}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.st.ClaimDueDeliveries(ctx, store.ClaimParams{Now: b.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	j := jobs[0]
	if _, err := b.st.CompleteAttempts(ctx, []store.AttemptResult{{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusSucceeded,
		Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: e.ID, EventID: j.Event.ID, Number: 1,
			StartedAt: b.clock.Now().Add(-time.Minute), Duration: 42 * time.Millisecond, StatusCode: 200, Trigger: "scheduled"}}}); err != nil {
		t.Fatal(err)
	}
	r := b.admin().get("/ui/endpoints/" + e.ID)
	if r.status != http.StatusOK {
		t.Fatalf("endpoint page: %d", r.status)
	}
	for _, want := range []string{`<th scope="row">hour</th><td>1</td><td>1</td><td>0</td><td>0</td><td>100.0%</td><td>42ms</td>`, `<th scope="row">day</th>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("endpoint page lacks %s", want)
		}
	}
}
