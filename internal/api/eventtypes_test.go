package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/store"
)

func TestEventTypeLifecycle(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	schema := `{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}`
	r := must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"invoice.paid","description":"paid","schema":`+schema+`,"example":{"id":"in_1", "n": 1.0}}`), http.StatusCreated)
	if r.header.Get("Location") != "/api/v1/event-types/invoice.paid" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	var et eventTypeJSON
	r.json(t, &et)
	if et.Name != "invoice.paid" || et.Group != "invoice" || et.Description != "paid" || et.Enforce || et.Deprecated {
		t.Errorf("created %+v", et)
	}
	// The example is stored byte for byte (responses compact it; numbers
	// keep their text).
	if string(et.Example) != `{"id":"in_1","n":1.0}` {
		t.Errorf("example %s", et.Example)
	}
	if st, err := tb.store.GetEventType(t.Context(), "invoice.paid"); err != nil || string(st.Example) != `{"id":"in_1", "n": 1.0}` {
		t.Errorf("stored example %s, %v", st.Example, err)
	}
	wantError(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"invoice.paid"}`), http.StatusConflict, CodeConflict)
	wantError(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"x","schema":{"type":"object"},"example":[]}`),
		http.StatusUnprocessableEntity, CodeValidation, "example does not match the schema")
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"invoice.voided"}`), http.StatusCreated)
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"user.created"}`), http.StatusCreated)

	var page list[eventTypeJSON]
	must(t, tb.do(t, "GET", "/api/v1/event-types?prefix=invoice.", nil), 200).json(t, &page)
	if len(page.Data) != 2 || page.Data[0].Name != "invoice.paid" || page.Data[1].Name != "invoice.voided" {
		t.Errorf("list invoice. = %+v", page.Data)
	}

	// A patch writes only what it names.
	must(t, tb.do(t, "PATCH", "/api/v1/event-types/invoice.paid", `{"deprecated":true}`), 200).json(t, &et)
	if !et.Deprecated || et.Description != "paid" || string(et.Schema) != schema {
		t.Errorf("patched %+v", et)
	}
	wantError(t, tb.do(t, "PATCH", "/api/v1/event-types/invoice.paid", `{"name":"other"}`), http.StatusUnprocessableEntity, CodeValidation)
	wantError(t, tb.do(t, "PATCH", "/api/v1/event-types/invoice.voided", `{"enforce":true}`), http.StatusUnprocessableEntity, CodeValidation, "enforce needs a schema")
	wantError(t, tb.do(t, "PATCH", "/api/v1/event-types/nope", `{"deprecated":true}`), http.StatusNotFound, CodeNotFound)

	must(t, tb.do(t, "DELETE", "/api/v1/event-types/user.created", nil), http.StatusNoContent)
	wantError(t, tb.do(t, "GET", "/api/v1/event-types/user.created", nil), http.StatusNotFound, CodeNotFound)
}

// TestEventSchemaEnforced: an event of a type that enforces its schema is
// checked on the exact payload; a violation is a 422 naming the first
// fault, and nothing is stored.
func TestEventSchemaEnforced(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var ep endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook"}), http.StatusCreated).json(t, &ep)
	// 2^53 is the maximum: 2^53+1 would pass if decoded as a float64.
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"order.paid","enforce":true,
		"schema":{"type":"object","required":["order"],"properties":{"order":{"type":"object","properties":{"amount":{"type":"integer","maximum":9007199254740992}}}}}}`),
		http.StatusCreated)

	deliveries := func() int {
		t.Helper()
		ds, _, err := tb.store.ListDeliveries(t.Context(), store.DeliveryFilter{EndpointID: ep.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(ds)
	}
	for _, tc := range []struct{ payload, pointer, keyword string }{
		{`{"order":{"amount":9007199254740993}}`, "/order/amount", "maximum"},
		{`{}`, "", "required"},
		{`{"order":{"amount":"1"}}`, "/order/amount", "type"},
	} {
		r := tb.do(t, "POST", "/api/v1/events", `{"type":"order.paid","payload":`+tc.payload+`}`)
		wantError(t, r, http.StatusUnprocessableEntity, CodeSchemaViolation)
		var e struct {
			Error struct{ Pointer, Keyword string } `json:"error"`
		}
		r.json(t, &e)
		if e.Error.Pointer != tc.pointer || e.Error.Keyword != tc.keyword {
			t.Errorf("%s: pointer %q keyword %q, want %q %q", tc.payload, e.Error.Pointer, e.Error.Keyword, tc.pointer, tc.keyword)
		}
	}
	if n := deliveries(); n != 0 {
		t.Fatalf("%d deliveries after refused events, want 0", n)
	}
	must(t, tb.do(t, "POST", "/api/v1/events", `{"type":"order.paid","payload":{"order":{"amount":9007199254740992}}}`), http.StatusAccepted)
	// A type outside the catalog is not checked.
	must(t, tb.do(t, "POST", "/api/v1/events", `{"type":"order.refunded","payload":[]}`), http.StatusAccepted)
	if n := deliveries(); n != 2 {
		t.Fatalf("%d deliveries, want 2", n)
	}
	// Enforcement off: the same payload passes.
	must(t, tb.do(t, "PATCH", "/api/v1/event-types/order.paid", `{"enforce":false}`), 200)
	must(t, tb.do(t, "POST", "/api/v1/events", `{"type":"order.paid","payload":{}}`), http.StatusAccepted)
}

func TestSendExample(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var ep endpointJSON
	// The endpoint's filter does not take the type: the example goes anyway.
	must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "event_types": []string{"user.*"}}),
		http.StatusCreated).json(t, &ep)
	const example = `{"id": 123456789012345678901234567890}`
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"invoice.paid","example":`+example+`}`), http.StatusCreated)
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"bare"}`), http.StatusCreated)

	r := must(t, tb.do(t, "POST", "/api/v1/event-types/invoice.paid/send-example", map[string]string{"endpoint_id": ep.ID}), http.StatusAccepted)
	var out struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Deliveries int             `json:"deliveries"`
		Payload    json.RawMessage `json:"payload"`
	}
	r.json(t, &out)
	if out.Type != "invoice.paid" || out.Deliveries != 1 || string(out.Payload) != example {
		t.Fatalf("send-example = %s", r.body)
	}
	ds, _, err := tb.store.ListDeliveries(t.Context(), store.DeliveryFilter{EventID: out.ID})
	if err != nil || len(ds) != 1 || ds[0].EndpointID != ep.ID || ds[0].EventType != "invoice.paid" {
		t.Fatalf("deliveries of the example: %+v, %v", ds, err)
	}
	ev, err := tb.store.GetEvent(t.Context(), out.ID)
	if err != nil || string(ev.Payload) != example {
		t.Fatalf("stored example event: %+v, %v", ev, err)
	}
	wantError(t, tb.do(t, "POST", "/api/v1/event-types/bare/send-example", map[string]string{"endpoint_id": ep.ID}), http.StatusUnprocessableEntity, CodeValidation, "no example")
	wantError(t, tb.do(t, "POST", "/api/v1/event-types/invoice.paid/send-example", map[string]string{"endpoint_id": "ep_nope"}), http.StatusNotFound, CodeNotFound, `endpoint "ep_nope"`)
	wantError(t, tb.do(t, "POST", "/api/v1/event-types/nope/send-example", map[string]string{"endpoint_id": ep.ID}), http.StatusNotFound, CodeNotFound, `event type "nope"`)
}

func TestReplayMissing(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var ep endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook", "disabled": true}), http.StatusCreated).json(t, &ep)
	since := tb.clock.Now().Add(-time.Minute).Format(time.RFC3339Nano)
	for i := range 3 {
		must(t, tb.do(t, "POST", "/api/v1/events", fmt.Sprintf(`{"type":"a.b","payload":%d}`, i)), http.StatusAccepted)
	}
	path := "/api/v1/endpoints/" + ep.ID + "/replay-missing"
	wantError(t, tb.do(t, "POST", path, map[string]any{"since": since}), http.StatusConflict, CodeConflict, "disabled")
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, map[string]any{"disabled": false}), 200)
	wantError(t, tb.do(t, "POST", path, `{}`), http.StatusUnprocessableEntity, CodeValidation, "since is required")
	wantError(t, tb.do(t, "POST", path, map[string]any{"since": since, "until": since}), http.StatusUnprocessableEntity, CodeValidation, "until")
	wantError(t, tb.do(t, "POST", path, map[string]any{"since": since, "event_types": []string{"a b"}}), http.StatusUnprocessableEntity, CodeValidation, "event_types")
	wantError(t, tb.do(t, "POST", path, map[string]any{"since": since, "after": "junk"}), http.StatusUnprocessableEntity, CodeValidation, "after")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/ep_nope/replay-missing", map[string]any{"since": since}), http.StatusNotFound, CodeNotFound)

	before := tb.notifier.n.Load()
	var out replayMissingResponse
	must(t, tb.do(t, "POST", path, map[string]any{"since": since, "event_types": []string{"a.*"}}), 200).json(t, &out)
	if out.Created != 3 || !out.Complete || out.NextCursor != "" {
		t.Fatalf("replay-missing = %+v, want 3 created, complete", out)
	}
	if tb.notifier.n.Load() == before {
		t.Error("the engine was not notified")
	}
	must(t, tb.do(t, "POST", path, map[string]any{"since": since}), 200).json(t, &out)
	if out.Created != 0 || !out.Complete {
		t.Fatalf("second replay-missing = %+v, want nothing created", out)
	}
}

func TestEndpointStats(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var ep endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/hook"}), http.StatusCreated).json(t, &ep)
	for i := range 4 {
		must(t, tb.do(t, "POST", "/api/v1/events", fmt.Sprintf(`{"type":"a.b","payload":%d}`, i)), http.StatusAccepted)
	}
	now := tb.clock.Now()
	jobs, err := tb.store.ClaimDueDeliveries(t.Context(), store.ClaimParams{Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 4 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	var rs []store.AttemptResult
	for i, j := range jobs {
		// 10, 20, 30 ms within the hour; one 40 ms 3 hours ago.
		started, code, status := now.Add(-time.Minute), 200, store.StatusSucceeded
		if i == 1 {
			code, status = 503, store.StatusFailed
		}
		if i == 3 {
			started = now.Add(-3 * time.Hour)
		}
		rs = append(rs, store.AttemptResult{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: status,
			Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: ep.ID, EventID: j.Event.ID,
				Number: 1, StartedAt: started, Duration: time.Duration(i+1) * 10 * time.Millisecond, StatusCode: code, Trigger: "scheduled"}})
	}
	if _, err := tb.store.CompleteAttempts(t.Context(), rs); err != nil {
		t.Fatal(err)
	}
	var out struct {
		EndpointID string               `json:"endpoint_id"`
		Windows    map[string]statsJSON `json:"windows"`
	}
	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID+"/stats", nil), 200).json(t, &out)
	hour, day := out.Windows["hour"], out.Windows["day"]
	if out.EndpointID != ep.ID || hour.Attempts != 3 || hour.Succeeded != 2 || hour.Failed != 1 || hour.P50MS != 20 || hour.P99MS != 30 {
		t.Errorf("hour = %+v", hour)
	}
	if day.Attempts != 4 || day.Succeeded != 3 || day.SuccessRate != 0.75 || day.P95MS != 40 {
		t.Errorf("day = %+v", day)
	}
	wantError(t, tb.do(t, "GET", "/api/v1/endpoints/ep_nope/stats", nil), http.StatusNotFound, CodeNotFound)
}

// TestEventTypeCache: events read their type from a per-process cache. A
// change made through this API applies to the next event at once; one made
// in the store by another node (here: straight in the store) applies once
// catalog.DefaultCacheFor has passed, and not before; a type's absence is
// cached the same way.
func TestEventTypeCache(t *testing.T) {
	t.Parallel()
	var reads *typeReads
	tb := setup(t, func(c *Config) { reads = &typeReads{Store: c.Store}; c.Store = reads })
	ctx := t.Context()
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"order.paid","enforce":true,"schema":{"type":"object","required":["id"]}}`), http.StatusCreated)
	send := func(typ, payload string) int {
		t.Helper()
		return tb.do(t, "POST", "/api/v1/events", `{"type":"`+typ+`","payload":`+payload+`}`).status
	}
	if got := send("order.paid", `{"id":1}`); got != http.StatusAccepted {
		t.Fatalf("valid event: %d", got)
	}
	before := reads.n.Load()
	for range 5 {
		if got := send("order.paid", `{"id":1}`); got != http.StatusAccepted {
			t.Fatalf("valid event: %d", got)
		}
	}
	if n := reads.n.Load() - before; n != 0 {
		t.Errorf("%d event type reads for 5 events of a cached type, want 0", n)
	}

	// Through the API: the next event sees the new schema.
	must(t, tb.do(t, "PATCH", "/api/v1/event-types/order.paid", `{"schema":{"type":"object","required":["sku"]}}`), http.StatusOK)
	if got := send("order.paid", `{"id":1}`); got != http.StatusUnprocessableEntity {
		t.Fatalf("event breaking the schema patched through the API: %d, want 422", got)
	}

	// Straight in the store: seen after the bound, not before.
	off := false
	if _, err := tb.store.UpdateEventType(ctx, "order.paid", func(*store.EventType) (store.EventTypePatch, error) {
		return store.EventTypePatch{Enforce: &off, UpdatedAt: tb.clock.Now()}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if got := send("order.paid", `{"id":1}`); got != http.StatusUnprocessableEntity {
		t.Fatalf("within the bound: %d, want 422 (cached type)", got)
	}
	tb.clock.Advance(catalog.DefaultCacheFor)
	if got := send("order.paid", `{"id":1}`); got != http.StatusAccepted {
		t.Fatalf("after the bound: %d, want 202 (enforcement turned off in the store)", got)
	}

	// A type outside the catalog: its absence is cached the same way.
	if got := send("user.created", `[]`); got != http.StatusAccepted {
		t.Fatalf("type outside the catalog: %d", got)
	}
	before = reads.n.Load()
	if got := send("user.created", `[]`); got != http.StatusAccepted {
		t.Fatalf("type outside the catalog: %d", got)
	}
	if n := reads.n.Load() - before; n != 0 {
		t.Errorf("%d reads for a type known to be absent, want 0", n)
	}
	now := tb.clock.Now()
	if err := tb.store.CreateEventType(ctx, &store.EventType{Name: "user.created", Schema: []byte(`{"type":"object"}`), Enforce: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if got := send("user.created", `[]`); got != http.StatusAccepted {
		t.Fatalf("created in the store, within the bound: %d, want 202 (cached absence)", got)
	}
	tb.clock.Advance(catalog.DefaultCacheFor)
	if got := send("user.created", `[]`); got != http.StatusUnprocessableEntity {
		t.Fatalf("created in the store, after the bound: %d, want 422", got)
	}

	// Created and deleted through the API: at once.
	if got := send("team.joined", `[]`); got != http.StatusAccepted {
		t.Fatalf("type outside the catalog: %d", got)
	}
	must(t, tb.do(t, "POST", "/api/v1/event-types", `{"name":"team.joined","enforce":true,"schema":{"type":"object"}}`), http.StatusCreated)
	if got := send("team.joined", `[]`); got != http.StatusUnprocessableEntity {
		t.Fatalf("type created through the API: %d, want 422", got)
	}
	must(t, tb.do(t, "DELETE", "/api/v1/event-types/team.joined", nil), http.StatusNoContent)
	if got := send("team.joined", `[]`); got != http.StatusAccepted {
		t.Fatalf("type deleted through the API: %d, want 202", got)
	}
}
