package storetest

import (
	"bytes"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// oddPayload is JSON that any re-serialization would change.
const oddPayload = "{ \"amount\" : 123456789012345678901234567890,\n\t\"ratio\":1.0e+00 ,\"neg\":-0," +
	"\"s\":\"caf\\u00e9 \\\"q\\\" \\/ \\ud83d\\ude00 é\",\"dup\":1,\"dup\":2,\r\n\"a\":[ ] }  "

func testEventRoundTrip(h *harness) {
	e := h.endpoint("acme", nil)
	ev := &store.Event{
		ID:             store.NewID("evt"),
		Tenant:         "acme",
		Type:           "invoice.paid",
		Payload:        []byte(oddPayload),
		IdempotencyKey: "key-1",
		CreatedAt:      t0,
		TraceParent:    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	got, ds, err := h.s.CreateEvent(h.ctx, ev, t0.Add(-24*time.Hour))
	if err != nil {
		h.Fatalf("CreateEvent: %v", err)
	}
	if got.ID != ev.ID || !bytes.Equal(got.Payload, ev.Payload) || !got.CreatedAt.Equal(t0) {
		h.Fatalf("CreateEvent returned %+v", got)
	}
	if len(ds) != 1 || ds[0].EndpointID != e.ID {
		h.Fatalf("CreateEvent made %d deliveries", len(ds))
	}
	read, err := h.s.GetEvent(h.ctx, ev.ID)
	if err != nil {
		h.Fatalf("GetEvent: %v", err)
	}
	if !bytes.Equal(read.Payload, []byte(oddPayload)) {
		h.Fatalf("payload changed:\n got %q\nwant %q", read.Payload, oddPayload)
	}
	if read.ID != ev.ID || read.Tenant != "acme" || read.Type != "invoice.paid" || read.IdempotencyKey != "key-1" || !read.CreatedAt.Equal(t0) ||
		read.TraceParent != ev.TraceParent {
		h.Fatalf("GetEvent = %+v", read)
	}
	// The job carries the same bytes, and the trace context.
	jobs := h.claim(t0, 1)
	if len(jobs) != 1 || !bytes.Equal(jobs[0].Event.Payload, []byte(oddPayload)) || jobs[0].Event.ID != ev.ID ||
		jobs[0].Event.TraceParent != ev.TraceParent {
		h.Fatalf("job event = %+v", jobs)
	}

	_, err = h.s.GetEvent(h.ctx, "evt_missing")
	wantErr(h, "GetEvent(missing)", err, store.ErrNotFound)

	dup := newEvent("acme", "invoice.paid", t0)
	dup.ID = ev.ID
	_, _, err = h.s.CreateEvent(h.ctx, dup, time.Time{})
	wantErr(h, "CreateEvent with a taken id", err, store.ErrConflict)
	d, _, _ := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{EventID: ev.ID})
	if len(d) != 1 {
		h.Fatalf("a conflicting CreateEvent left %d deliveries for the id, want 1", len(d))
	}
}

func testIdempotency(h *harness) {
	h.endpoint("acme", nil)
	h.endpoint("beta", nil)
	window := 24 * time.Hour
	create := func(tenant, key string, at time.Time) (*store.Event, []*store.Delivery, error) {
		ev := newEvent(tenant, "order.created", at)
		ev.IdempotencyKey = key
		return h.s.CreateEvent(h.ctx, ev, at.Add(-window))
	}
	first, ds, err := create("acme", "k1", t0)
	if err != nil || len(ds) != 1 {
		h.Fatalf("first CreateEvent: %v, %d deliveries", err, len(ds))
	}

	// Same tenant, same key, inside the window: nothing written, the earlier
	// event returned.
	got, ds, err := create("acme", "k1", t0.Add(time.Hour))
	wantErr(h, "CreateEvent with a used key", err, store.ErrConflict)
	if got == nil || got.ID != first.ID || !bytes.Equal(got.Payload, first.Payload) || got.IdempotencyKey != "k1" {
		h.Fatalf("CreateEvent with a used key returned %+v, want the earlier event %s", got, first.ID)
	}
	if len(ds) != 0 {
		h.Fatalf("CreateEvent with a used key returned %d deliveries", len(ds))
	}
	all, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{})
	if err != nil || len(all) != 1 {
		h.Fatalf("after a duplicate: %d deliveries, %v; want 1", len(all), err)
	}

	// Other tenants and other keys are independent; no key never conflicts.
	if _, _, err := create("beta", "k1", t0.Add(time.Hour)); err != nil {
		h.Fatalf("same key, other tenant: %v", err)
	}
	if _, _, err := create("acme", "k2", t0.Add(time.Hour)); err != nil {
		h.Fatalf("other key: %v", err)
	}
	for range 2 {
		if _, _, err := create("acme", "", t0.Add(time.Hour)); err != nil {
			h.Fatalf("no key: %v", err)
		}
	}

	// Past the window, the key can be used again; then the new event is the
	// one it protects.
	later := t0.Add(window + time.Minute)
	second, ds, err := create("acme", "k1", later)
	if err != nil || len(ds) != 1 || second.ID == first.ID {
		h.Fatalf("reuse after the window: %v, %d deliveries", err, len(ds))
	}
	got, _, err = create("acme", "k1", later.Add(time.Minute))
	wantErr(h, "CreateEvent with a reused key", err, store.ErrConflict)
	if got == nil || got.ID != second.ID {
		h.Fatalf("conflict after reuse returned %+v, want %s", got, second.ID)
	}
	// The old event keeps its key.
	old, err := h.s.GetEvent(h.ctx, first.ID)
	if err != nil || old.IdempotencyKey != "k1" {
		h.Fatalf("first event after reuse: %+v, %v", old, err)
	}

	// The window is "created after idempotentSince": an event created exactly
	// at idempotentSince no longer counts.
	third, _, err := create("acme", "k3", t0)
	if err != nil {
		h.Fatalf("k3: %v", err)
	}
	ev := newEvent("acme", "order.created", t0.Add(time.Second))
	ev.IdempotencyKey = "k3"
	if _, _, err := h.s.CreateEvent(h.ctx, ev, third.CreatedAt); err != nil {
		h.Fatalf("key created exactly at idempotentSince: %v", err)
	}
}

func testIdempotencyRace(h *harness) {
	h.endpoint("", nil)
	const n = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created []string
		dupOf   []string
	)
	for range n {
		wg.Go(func() {
			ev := newEvent("", "order.created", t0)
			ev.IdempotencyKey = "same"
			got, _, err := h.s.CreateEvent(h.ctx, ev, t0.Add(-time.Hour))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created = append(created, got.ID)
			case isConflict(err) && got != nil:
				dupOf = append(dupOf, got.ID)
			default:
				h.Errorf("CreateEvent: %v (event %v)", err, got)
			}
		})
	}
	wg.Wait()
	if len(created) != 1 || len(dupOf) != n-1 {
		h.Fatalf("%d created, %d conflicts; want 1 and %d", len(created), len(dupOf), n-1)
	}
	for _, id := range dupOf {
		if id != created[0] {
			h.Fatalf("conflict returned event %s, want %s", id, created[0])
		}
	}
	all, _, _ := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{})
	if len(all) != 1 {
		h.Fatalf("%d deliveries, want 1", len(all))
	}
}

func testFanOut(h *harness) {
	n := now()
	exact := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"invoice.paid"} })
	prefix := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"order.created", "invoice.*"} })
	star := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"*"} })
	none := h.endpoint("acme", nil)
	fifo := h.endpoint("acme", func(e *store.Endpoint) { e.FIFO = true })
	h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"order.created"} })
	h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"invoice"} })
	h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"invoice.paid.*"} })
	h.endpoint("acme", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	h.endpoint("other", nil)
	h.endpoint("", nil)

	ev, ds := h.event("acme", "invoice.paid", n)
	h.wantIDs("endpoints of invoice.paid", endpointIDs(ds), sorted(exact.ID, prefix.ID, star.ID, none.ID, fifo.ID))
	for _, d := range ds {
		want := &store.Delivery{
			ID:            d.ID,
			EventID:       ev.ID,
			EndpointID:    d.EndpointID,
			Tenant:        "acme",
			EventType:     "invoice.paid",
			Status:        store.StatusPending,
			NextAttemptAt: n,
			FIFO:          d.EndpointID == fifo.ID,
			CreatedAt:     d.CreatedAt,
			UpdatedAt:     d.UpdatedAt,
		}
		wantDelivery(h, d, want)
		wantDelivery(h, h.delivery(d.ID), d)
	}

	_, ds = h.event("acme", "invoice.paid.late", n)
	h.wantIDs("endpoints of invoice.paid.late", endpointIDs(ds), sorted(prefix.ID, star.ID, none.ID, fifo.ID, idOfFilter(h, "invoice.paid.*")))
	_, ds = h.event("acme", "invoice", n)
	h.wantIDs("endpoints of invoice", endpointIDs(ds), sorted(star.ID, none.ID, fifo.ID, idOfFilter(h, "invoice")))
	_, ds = h.event("nobody", "invoice.paid", n)
	if len(ds) != 0 {
		h.Fatalf("a tenant without endpoints got %d deliveries", len(ds))
	}
}

func idOfFilter(h *harness, filter string) string {
	h.Helper()
	list, _, err := h.s.ListEndpoints(h.ctx, store.EndpointFilter{Page: store.Page{Limit: 1000}})
	if err != nil {
		h.Fatalf("ListEndpoints: %v", err)
	}
	for _, e := range list {
		if slices.Equal(e.EventTypes, []string{filter}) {
			return e.ID
		}
	}
	h.Fatalf("no endpoint with filter %q", filter)
	return ""
}

func endpointIDs(ds []*store.Delivery) []string {
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.EndpointID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
