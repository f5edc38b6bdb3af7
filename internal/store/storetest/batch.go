package storetest

import (
	"bytes"
	"errors"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// batchTests exercise CreateEvents.
var batchTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"CreateEvents", testCreateEvents},
	{"CreateEventsAbort", testCreateEventsAbort},
}

// testCreateEvents: one result per event in order, fan-out per event as
// CreateEvent does, idempotency keys per event (an earlier call's, and an
// earlier event of the same batch), and a conflicting event does not lose
// the others.
func testCreateEvents(h *harness) {
	acme := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"invoice.*"} })
	beta := h.endpoint("beta", nil)
	window := 24 * time.Hour
	first := newEvent("acme", "invoice.paid", t0)
	first.IdempotencyKey = "k1"
	if _, _, err := h.s.CreateEvent(h.ctx, first, t0.Add(-window)); err != nil {
		h.Fatalf("CreateEvent: %v", err)
	}

	at := t0.Add(time.Second)
	evs := []*store.Event{
		newEvent("acme", "invoice.paid", at),  // 0: one delivery
		newEvent("acme", "order.created", at), // 1: no endpoint takes it
		newEvent("acme", "invoice.sent", at),  // 2: key of an earlier call
		newEvent("beta", "x", at),             // 3: key k1, but of another tenant
		newEvent("beta", "y", at),             // 4: key k2, first use
		newEvent("beta", "z", at),             // 5: key k2 again, taken by 4
	}
	evs[0].Payload = []byte(oddPayload)
	evs[2].IdempotencyKey = "k1"
	evs[3].IdempotencyKey = "k1"
	evs[4].IdempotencyKey = "k2"
	evs[5].IdempotencyKey = "k2"
	res, err := h.s.CreateEvents(h.ctx, evs, at.Add(-window))
	if err != nil {
		h.Fatalf("CreateEvents: %v", err)
	}
	if len(res) != len(evs) {
		h.Fatalf("CreateEvents returned %d results for %d events", len(res), len(evs))
	}
	for _, i := range []int{0, 1, 3, 4} {
		r := res[i]
		if r.Err != nil || r.Event == nil || r.Event.ID != evs[i].ID || !r.Event.CreatedAt.Equal(at) {
			h.Fatalf("result %d = %+v, want event %s", i, r, evs[i].ID)
		}
		got, err := h.s.GetEvent(h.ctx, evs[i].ID)
		if err != nil || !bytes.Equal(got.Payload, evs[i].Payload) || got.Type != evs[i].Type {
			h.Fatalf("GetEvent(%d) = %+v, %v", i, got, err)
		}
	}
	if ds := res[0].Deliveries; len(ds) != 1 || ds[0].EndpointID != acme.ID || ds[0].EventID != evs[0].ID {
		h.Fatalf("event 0 made deliveries %+v, want one to %s", ds, acme.ID)
	}
	if ds := res[1].Deliveries; len(ds) != 0 {
		h.Fatalf("event 1 made %d deliveries, want none", len(ds))
	}
	for _, i := range []int{3, 4} {
		if ds := res[i].Deliveries; len(ds) != 1 || ds[0].EndpointID != beta.ID {
			h.Fatalf("event %d made deliveries %+v, want one to %s", i, ds, beta.ID)
		}
	}
	wantErr(h, "event 2 (key of an earlier call)", res[2].Err, store.ErrConflict)
	if res[2].Event == nil || res[2].Event.ID != first.ID {
		h.Fatalf("event 2's earlier event = %+v, want %s", res[2].Event, first.ID)
	}
	wantErr(h, "event 5 (key of event 4)", res[5].Err, store.ErrConflict)
	if res[5].Event == nil || res[5].Event.ID != evs[4].ID {
		h.Fatalf("event 5's earlier event = %+v, want %s", res[5].Event, evs[4].ID)
	}
	for _, i := range []int{2, 5} {
		if _, err := h.s.GetEvent(h.ctx, evs[i].ID); !errors.Is(err, store.ErrNotFound) {
			h.Fatalf("event %d with a key in use was stored: %v", i, err)
		}
	}
	// The deliveries are in the queue, with the exact payload.
	jobs := h.claim(at, 10)
	if len(jobs) != 4 {
		h.Fatalf("claimed %d jobs, want 4 (the first call's and the batch's 3)", len(jobs))
	}
	for _, j := range jobs {
		if j.Event.ID == evs[0].ID && !bytes.Equal(j.Event.Payload, []byte(oddPayload)) {
			h.Fatalf("job payload = %q", j.Event.Payload)
		}
	}
	if res, err := h.s.CreateEvents(h.ctx, nil, at); err != nil || len(res) != 0 {
		h.Fatalf("CreateEvents(nil) = %v, %v", res, err)
	}
}

// testCreateEventsAbort: an error other than an idempotency conflict (an
// event id that exists) fails the whole call, and nothing of it is written.
func testCreateEventsAbort(h *harness) {
	h.endpoint("acme", nil)
	taken, _ := h.event("acme", "a", t0)
	good := newEvent("acme", "a", t0)
	good.IdempotencyKey = "kk"
	dup := newEvent("acme", "a", t0)
	dup.ID = taken.ID
	_, err := h.s.CreateEvents(h.ctx, []*store.Event{good, dup}, t0.Add(-time.Hour))
	wantErr(h, "CreateEvents with a taken id", err, store.ErrConflict)
	if _, err := h.s.GetEvent(h.ctx, good.ID); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("the failed batch's good event was stored: %v", err)
	}
	// Its key was not taken either.
	again := newEvent("acme", "a", t0)
	again.IdempotencyKey = "kk"
	if _, _, err := h.s.CreateEvent(h.ctx, again, t0.Add(-time.Hour)); err != nil {
		h.Fatalf("CreateEvent with the failed batch's key: %v", err)
	}
	if ds := h.claim(t0, 10); len(ds) != 2 {
		h.Fatalf("claimed %d jobs, want 2", len(ds))
	}
}
