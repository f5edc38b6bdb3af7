package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

// batchOut is the answer of POST /api/v1/events/batch, as a client reads it.
type batchOut struct {
	Accepted int `json:"accepted"`
	Failed   int `json:"failed"`
	Results  []struct {
		Status     int               `json:"status"`
		ID         string            `json:"id"`
		Tenant     string            `json:"tenant"`
		Type       string            `json:"type"`
		Deliveries *int              `json:"deliveries"`
		Duplicate  bool              `json:"duplicate"`
		Error      map[string]string `json:"error"`
	} `json:"results"`
}

// TestBatchMixed: results come in the order of the events; bad events
// (schema violation, bad type, bad JSON payload, oversized payload) get
// their error and lose only themselves; the good ones are stored with
// their deliveries and the exact payload; idempotency keys work per event.
func TestBatchMixed(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.MaxPayloadBytes = 64 })
	var ep endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook"}), http.StatusCreated).json(t, &ep)
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"order.paid","enforce":true,
		"schema":{"type":"object","required":["id"]}}`), http.StatusCreated)
	var earlier eventJSON
	must(t, tb.do(t, "POST", "/api/v1/events", `{"type":"a.b","payload":{},"idempotency_key":"k0"}`), 202).json(t, &earlier)
	notified := tb.notifier.n.Load()

	body := `{"events":[
		{"type":"order.paid","payload":{"id":"o1", "big": 123456789012345678901234567890}},
		{"type":"order.paid","payload":{"nope":1}},
		{"type":"bad type","payload":{}},
		{"type":"a.b","payload":{"x":"` + strings.Repeat("y", 80) + `"}},
		{"type":"a.b","payload":{},"idempotency_key":"k0"},
		{"type":"a.b","payload":1,"idempotency_key":"k1"},
		{"type":"a.b","payload":2,"idempotency_key":"k1"}
	]}`
	var out batchOut
	must(t, tb.do(t, "POST", "/api/v1/events/batch", body), http.StatusOK).json(t, &out)
	if out.Accepted != 4 || out.Failed != 3 || len(out.Results) != 7 {
		t.Fatalf("accepted %d, failed %d, %d results: %+v", out.Accepted, out.Failed, len(out.Results), out)
	}
	wantStatus := []int{202, 422, 422, 413, 202, 202, 202}
	wantCode := []string{"", CodeSchemaViolation, CodeValidation, CodeTooLarge, "", "", ""}
	for i, r := range out.Results {
		if r.Status != wantStatus[i] || r.Error["code"] != wantCode[i] {
			t.Errorf("result %d = %+v, want status %d code %q", i, r, wantStatus[i], wantCode[i])
		}
		if (r.Error == nil) != (r.ID != "") {
			t.Errorf("result %d has id %q and error %v", i, r.ID, r.Error)
		}
	}
	if p := out.Results[1].Error["pointer"]; p != "" || out.Results[1].Error["keyword"] != "required" {
		t.Errorf("schema violation details %v", out.Results[1].Error)
	}
	// The first is stored with its exact payload and a delivery.
	r0 := out.Results[0]
	if r0.Deliveries == nil || *r0.Deliveries != 1 || r0.Type != "order.paid" {
		t.Errorf("result 0 = %+v", r0)
	}
	ev, err := tb.store.GetEvent(t.Context(), r0.ID)
	if err != nil || string(ev.Payload) != `{"id":"o1", "big": 123456789012345678901234567890}` {
		t.Fatalf("stored event 0: %+v, %v", ev, err)
	}
	// k0 was used by an earlier request, k1 by an earlier event of this one.
	if r := out.Results[4]; !r.Duplicate || r.ID != earlier.ID || r.Deliveries != nil {
		t.Errorf("result 4 = %+v, want the earlier event %s", r, earlier.ID)
	}
	if r := out.Results[6]; !r.Duplicate || r.ID != out.Results[5].ID {
		t.Errorf("result 6 = %+v, want event 5 %s", r, out.Results[5].ID)
	}
	ds, _, err := tb.store.ListDeliveries(t.Context(), store.DeliveryFilter{EndpointID: ep.ID})
	if err != nil || len(ds) != 3 { // the single event's, 0 and 5
		t.Fatalf("%d deliveries (%v), want 3", len(ds), err)
	}
	if tb.notifier.n.Load() != notified+1 {
		t.Errorf("notified %d times, want once", tb.notifier.n.Load()-notified)
	}

	// Repeating the batch creates nothing more.
	must(t, tb.do(t, "POST", "/api/v1/events/batch", body), http.StatusOK).json(t, &out)
	for _, i := range []int{4, 5, 6} {
		if !out.Results[i].Duplicate {
			t.Errorf("repeat: result %d = %+v, want a duplicate", i, out.Results[i])
		}
	}
}

// TestBatchLimits: a request over the event count, or the byte cap, or one
// that cannot be read, is refused whole and stores nothing.
func TestBatchLimits(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	one := `{"type":"a.b","payload":{}}`
	many := `{"events":[` + strings.TrimSuffix(strings.Repeat(one+",", MaxBatchEvents+1), ",") + `]}`
	wantError(t, tb.do(t, "POST", "/api/v1/events/batch", many), http.StatusRequestEntityTooLarge, CodeTooLarge, "1001 events")
	big := fmt.Sprintf(`{"events":[{"type":"a.b","payload":"%s"}]}`, strings.Repeat("x", maxBatchBytes))
	wantError(t, tb.do(t, "POST", "/api/v1/events/batch", big), http.StatusRequestEntityTooLarge, CodeTooLarge)
	wantError(t, tb.do(t, "POST", "/api/v1/events/batch", `{"events":[]}`), http.StatusUnprocessableEntity, CodeValidation)
	wantError(t, tb.do(t, "POST", "/api/v1/events/batch", `{"events":[{"type":"a.b","payload":{},"extra":1}]}`), http.StatusBadRequest, CodeInvalidRequest)
	if st, err := tb.store.QueueStats(t.Context(), tb.clock.Now()); err != nil || st.Pending != 0 {
		t.Fatalf("queue after refused batches: %+v, %v", st, err)
	}
	// Exactly the limit is fine.
	full := `{"events":[` + strings.TrimSuffix(strings.Repeat(one+",", MaxBatchEvents), ",") + `]}`
	var out batchOut
	must(t, tb.do(t, "POST", "/api/v1/events/batch", full), http.StatusOK).json(t, &out)
	if out.Accepted != MaxBatchEvents || len(out.Results) != MaxBatchEvents {
		t.Fatalf("accepted %d of %d", out.Accepted, MaxBatchEvents)
	}
}

// TestBatchTenantKey: a tenant key's events belong to its tenant; an event
// naming another tenant is refused (403) alone.
func TestBatchTenantKey(t *testing.T) {
	t.Parallel()
	tb := setupAccess(t)
	acme := "acme"
	key, _ := tb.newKey(t, &acme, access.EventsWrite)
	var out batchOut
	must(t, tb.doKey(t, key, "POST", "/api/v1/events/batch",
		`{"events":[{"type":"a.b","payload":{}},{"type":"a.b","tenant":"globex","payload":{}},{"type":"a.b","tenant":"acme","payload":{}}]}`),
		http.StatusOK).json(t, &out)
	if out.Accepted != 2 || out.Results[0].Tenant != "acme" || out.Results[2].Tenant != "acme" ||
		out.Results[1].Status != http.StatusForbidden || out.Results[1].Error["code"] != CodeForbidden {
		b, _ := json.Marshal(out)
		t.Fatalf("tenant key batch: %s", b)
	}
	// Without events:write, the whole request is refused.
	other, _ := tb.newKey(t, &acme, access.EndpointsRead)
	wantError(t, tb.doKey(t, other, "POST", "/api/v1/events/batch", `{"events":[{"type":"a.b","payload":{}}]}`),
		http.StatusForbidden, CodeForbidden)
}

// typeReads counts the event type reads of the store it wraps.
type typeReads struct {
	store.Store
	n atomic.Int64
}

func (s *typeReads) GetEventType(ctx context.Context, name string) (*store.EventType, error) {
	s.n.Add(1)
	return s.Store.GetEventType(ctx, name)
}

// TestBatchReadsEachTypeOnce: a batch reads each event type from the store
// once, not once per event (schema enforcement still applies to each).
func TestBatchReadsEachTypeOnce(t *testing.T) {
	t.Parallel()
	var reads *typeReads
	tb := setup(t, func(c *Config) { reads = &typeReads{Store: c.Store}; c.Store = reads })
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"order.paid","enforce":true,
		"schema":{"type":"object","required":["id"]}}`), http.StatusCreated)
	var events []string
	for i := range 50 {
		events = append(events, fmt.Sprintf(`{"type":"order.paid","payload":{"id":%d}}`, i), `{"type":"a.b","payload":{}}`)
	}
	events = append(events, `{"type":"order.paid","payload":{"nope":1}}`)
	before := reads.n.Load()
	var out batchOut
	must(t, tb.do(t, "POST", "/api/v1/events/batch", `{"events":[`+strings.Join(events, ",")+`]}`), http.StatusOK).json(t, &out)
	if out.Accepted != 100 || out.Failed != 1 || out.Results[100].Error["code"] != CodeSchemaViolation {
		t.Fatalf("accepted %d, failed %d, last %+v", out.Accepted, out.Failed, out.Results[100])
	}
	if n := reads.n.Load() - before; n != 2 {
		t.Errorf("%d event type reads for a batch of 101 events of 2 types, want 2", n)
	}
}
