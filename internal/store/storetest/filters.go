package storetest

import (
	"bytes"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// testFanOutFilters: CreateEvent delivers only to the endpoints whose
// payload filter the payload matches, numbers compared exactly; a
// payload that is not JSON matches no filter; filter changes count at
// once; CreateEventFor ignores filters.
func testFanOutFilters(h *harness) {
	above := h.endpoint("acme", func(e *store.Endpoint) {
		e.Filter = []byte(`{"amount": {"$gt": 12345678901234567890}}`)
	})
	atMost := h.endpoint("acme", func(e *store.Endpoint) {
		e.Filter = []byte(`{"amount": {"$lte": 12345678901234567890}}`)
	})
	plain := h.endpoint("acme", nil)
	otherType := h.endpoint("acme", func(e *store.Endpoint) {
		e.EventTypes = []string{"refund.*"}
		e.Filter = []byte(`{}`)
	})

	got, err := h.s.GetEndpoint(h.ctx, above.ID)
	if err != nil {
		h.Fatalf("GetEndpoint: %v", err)
	}
	if !bytes.Equal(got.Filter, above.Filter) {
		h.Fatalf("Filter = %q, want %q as written", got.Filter, above.Filter)
	}
	if got, _ := h.s.GetEndpoint(h.ctx, plain.ID); got.Filter != nil {
		h.Fatalf("Filter of an endpoint without one = %q, want nil", got.Filter)
	}

	send := func(payload string) []string {
		h.Helper()
		ev := newEvent("acme", "invoice.paid", t0)
		ev.Payload = []byte(payload)
		_, ds, err := h.s.CreateEvent(h.ctx, ev, time.Time{})
		if err != nil {
			h.Fatalf("CreateEvent: %v", err)
		}
		return endpointIDs(ds)
	}
	h.wantIDs("above", send(`{"amount": 12345678901234567891}`), sorted(above.ID, plain.ID))
	h.wantIDs("equal", send(`{"amount": 12345678901234567890.000}`), sorted(atMost.ID, plain.ID))
	h.wantIDs("not JSON", send(`amount=1`), sorted(plain.ID))
	h.wantIDs("absent", send(`{"total": 1}`), sorted(plain.ID))

	// A change of the filter counts for the next event, even within the
	// millisecond of the last change.
	if _, err := h.s.UpdateEndpoint(h.ctx, atMost.ID, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Filter: new([]byte(`{"total": {"$exists": true}}`)), UpdatedAt: cur.UpdatedAt}, nil
	}); err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
	h.wantIDs("after change", send(`{"total": 1}`), sorted(atMost.ID, plain.ID))
	// A patch that does not name the filter keeps it.
	e, err := h.s.UpdateEndpoint(h.ctx, above.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Description: new("renamed")}, nil
	})
	if err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
	if !bytes.Equal(e.Filter, above.Filter) {
		h.Fatalf("a description patch changed the filter to %q", e.Filter)
	}
	// Removing the filter.
	if e, err = h.s.UpdateEndpoint(h.ctx, above.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Filter: new([]byte(nil))}, nil
	}); err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
	if e.Filter != nil {
		h.Fatalf("removed filter = %q, want nil", e.Filter)
	}
	h.wantIDs("after removal", send(`not json`), sorted(above.ID, plain.ID))

	// CreateEventFor (test events) goes to the chosen endpoints whatever
	// their filters.
	ev := newEvent("acme", "invoice.paid", t0)
	ev.Payload = []byte(`{"amount": 1}`)
	_, ds, err := h.s.CreateEventFor(h.ctx, ev, []string{atMost.ID, otherType.ID})
	if err != nil {
		h.Fatalf("CreateEventFor: %v", err)
	}
	h.wantIDs("CreateEventFor", endpointIDs(ds), sorted(atMost.ID, otherType.ID))
}
