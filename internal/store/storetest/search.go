package storetest

import (
	"errors"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// SearchFields are the payload paths the stores that Run opens must index
// (their Config.SearchFields).
var SearchFields = []string{"order.id", "customer.email"}

var searchTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"ListEvents", testListEvents},
	{"SearchPayload", testSearchPayload},
	{"SearchKeepsUp", testSearchKeepsUp},
}

// payloadEvent creates an event of tenant with payload at at.
func (h *harness) payloadEvent(tenant, typ, payload string, at time.Time) *store.Event {
	h.Helper()
	ev := newEvent(tenant, typ, at)
	ev.Payload = []byte(payload)
	got, _, err := h.s.CreateEvent(h.ctx, ev, time.Time{})
	if err != nil {
		h.Fatalf("CreateEvent: %v", err)
	}
	return got
}

// listEvents lists every event f selects, page by page of 2.
func (h *harness) listEvents(s store.Store, f store.EventFilter) []string {
	h.Helper()
	f.Limit = 2
	var ids []string
	for range 100 {
		evs, next, err := s.ListEvents(h.ctx, f)
		if err != nil {
			h.Fatalf("ListEvents(%+v): %v", f, err)
		}
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		if next == "" {
			return ids
		}
		f.Cursor = next
	}
	h.Fatalf("ListEvents(%+v): more than 100 pages", f)
	return nil
}

func match(h *harness, path, value string) store.FieldMatch {
	h.Helper()
	k, err := store.ParseFieldValue(value)
	if err != nil {
		h.Fatalf("ParseFieldValue(%s): %v", value, err)
	}
	return store.FieldMatch{Path: path, Key: k}
}

func testListEvents(h *harness) {
	a, b := "a", "b"
	ea := h.endpoint(a, nil)
	e1 := h.payloadEvent(a, "invoice.paid", `{}`, t0)
	e2 := h.payloadEvent(a, "invoice.line.added", `{}`, t0.Add(time.Second))
	e3 := h.payloadEvent(b, "invoice.paid", `{}`, t0.Add(2*time.Second))
	e4 := h.payloadEvent(a, "invoices", `{}`, t0.Add(3*time.Second))
	e5 := h.payloadEvent(a, "order.created", `{}`, t0.Add(3*time.Second)) // same millisecond as e4
	newest := []string{e5.ID, e4.ID}
	if e4.ID > e5.ID {
		newest = []string{e4.ID, e5.ID}
	}
	all := append(newest, e3.ID, e2.ID, e1.ID)
	h.wantIDs("all", h.listEvents(h.s, store.EventFilter{}), all)
	h.wantIDs("tenant a", h.listEvents(h.s, store.EventFilter{Tenant: &a}), []string{newest[0], newest[1], e2.ID, e1.ID})
	h.wantIDs("type", h.listEvents(h.s, store.EventFilter{Type: "invoice.paid"}), []string{e3.ID, e1.ID})
	h.wantIDs("prefix", h.listEvents(h.s, store.EventFilter{Type: "invoice.*"}), []string{e3.ID, e2.ID, e1.ID})
	h.wantIDs("tenant and prefix", h.listEvents(h.s, store.EventFilter{Tenant: &a, Type: "invoice.*"}), []string{e2.ID, e1.ID})
	h.wantIDs("window", h.listEvents(h.s, store.EventFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second)}), []string{e3.ID, e2.ID})
	// Every event of a got a delivery to ea; fail e2's.
	h.wantIDs("endpoint", h.listEvents(h.s, store.EventFilter{EndpointID: ea.ID}), []string{newest[0], newest[1], e2.ID, e1.ID})
	for _, j := range h.claim(t0.Add(4*time.Second), 10) {
		if j.Event.ID == e2.ID {
			h.complete(store.AttemptResult{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusFailed,
				Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: ea.ID, EventID: e2.ID, Number: 1,
					StartedAt: t0.Add(4 * time.Second), StatusCode: 500, Trigger: "scheduled"}})
		}
	}
	h.wantIDs("failed", h.listEvents(h.s, store.EventFilter{Tenant: &a, Status: store.StatusFailed}), []string{e2.ID})
	h.wantIDs("failed to endpoint", h.listEvents(h.s, store.EventFilter{EndpointID: ea.ID, Status: store.StatusFailed}), []string{e2.ID})
	h.wantIDs("failed of b", h.listEvents(h.s, store.EventFilter{Tenant: &b, Status: store.StatusFailed}), nil)
	if _, _, err := h.s.ListEvents(h.ctx, store.EventFilter{Page: store.Page{Cursor: "nonsense"}}); !errors.Is(err, store.ErrBadCursor) {
		h.Fatalf("ListEvents with a bad cursor: %v, want ErrBadCursor", err)
	}
}

func testSearchPayload(h *harness) {
	a, b := "a", "b"
	ea := h.endpoint(a, nil)
	n1 := h.payloadEvent(a, "order.paid", `{"order": {"id": 123}, "customer": {"email": "x@example.com"}}`, t0)
	n2 := h.payloadEvent(a, "order.paid", `{"order": {"id": 123.0}}`, t0.Add(time.Second))
	s1 := h.payloadEvent(a, "order.paid", `{"order": {"id": "123"}}`, t0.Add(2*time.Second))
	nb := h.payloadEvent(b, "order.paid", `{"order": {"id": 1.23e2}}`, t0.Add(3*time.Second))
	h.payloadEvent(a, "order.paid", `{"order": {"id": [123]}}`, t0.Add(4*time.Second))
	h.payloadEvent(a, "order.paid", `{"order": 123}`, t0.Add(5*time.Second))
	h.payloadEvent(a, "order.paid", `not json`, t0.Add(6*time.Second))
	long := strings.Repeat("z", 300)
	nl := h.payloadEvent(a, "order.paid", `{"order": {"id": "`+long+`"}}`, t0.Add(7*time.Second))

	num := match(h, "order.id", "123")
	h.wantIDs("number", h.listEvents(h.s, store.EventFilter{Payload: []store.FieldMatch{num}}), []string{nb.ID, n2.ID, n1.ID})
	h.wantIDs("number in a", h.listEvents(h.s, store.EventFilter{Tenant: &a, Payload: []store.FieldMatch{num}}), []string{n2.ID, n1.ID})
	h.wantIDs("string", h.listEvents(h.s, store.EventFilter{Payload: []store.FieldMatch{match(h, "order.id", `"123"`)}}), []string{s1.ID})
	h.wantIDs("long string", h.listEvents(h.s, store.EventFilter{Payload: []store.FieldMatch{match(h, "order.id", long)}}), []string{nl.ID})
	h.wantIDs("two fields", h.listEvents(h.s, store.EventFilter{Payload: []store.FieldMatch{num, match(h, "customer.email", "x@example.com")}}), []string{n1.ID})
	h.wantIDs("window", h.listEvents(h.s, store.EventFilter{Since: t0.Add(time.Second), Until: t0.Add(3 * time.Second), Payload: []store.FieldMatch{num}}), []string{n2.ID})
	h.wantIDs("with endpoint", h.listEvents(h.s, store.EventFilter{EndpointID: ea.ID, Payload: []store.FieldMatch{num}}), []string{n2.ID, n1.ID})

	_, _, err := h.s.ListEvents(h.ctx, store.EventFilter{Payload: []store.FieldMatch{match(h, "order.total", "1")}})
	if !errors.Is(err, store.ErrNotSearchable) || !strings.Contains(err.Error(), "--search-field order.total") {
		h.Fatalf("ListEvents on an undeclared path: %v, want ErrNotSearchable saying how to declare it", err)
	}

	// Deliveries too.
	ds, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Payload: []store.FieldMatch{num}})
	if err != nil {
		h.Fatal(err)
	}
	var got []string
	for _, d := range ds {
		got = append(got, d.EventID)
	}
	h.wantIDs("deliveries", got, []string{n2.ID, n1.ID})
	if _, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Payload: []store.FieldMatch{match(h, "x", "1")}}); !errors.Is(err, store.ErrNotSearchable) {
		h.Fatalf("ListDeliveries on an undeclared path: %v, want ErrNotSearchable", err)
	}
}

// testSearchKeepsUp checks that every way events come and go keeps the
// index true: batches, test events, erasure, prune and import.
func testSearchKeepsUp(h *harness) {
	a := "a"
	ep := h.endpoint(a, nil)
	num := []store.FieldMatch{match(h, "order.id", "7")}
	find := func(s store.Store) []string { return h.listEvents(s, store.EventFilter{Payload: num}) }

	batch := []*store.Event{newEvent(a, "x", t0), newEvent(a, "x", t0.Add(time.Second))}
	batch[0].Payload = []byte(`{"order":{"id":7}}`)
	batch[1].Payload = []byte(`{"order":{"id":8}}`)
	res, err := h.s.CreateEvents(h.ctx, batch, time.Time{})
	if err != nil {
		h.Fatal(err)
	}
	test := newEvent(a, "x", t0.Add(2*time.Second))
	test.Payload = []byte(`{"order":{"id":7}}`)
	tev, _, err := h.s.CreateEventFor(h.ctx, test, []string{ep.ID})
	if err != nil {
		h.Fatal(err)
	}
	h.wantIDs("batch and test event", find(h.s), []string{tev.ID, res[0].Event.ID})

	// Import makes the index again from the payloads.
	var recs []store.Record
	if err := h.s.Export(h.ctx, func(r store.Record) error { recs = append(recs, r); return nil }); err != nil {
		h.Fatal(err)
	}
	fresh := h.open(h.T)
	if err := fresh.Import(h.ctx, func(yield func(store.Record, error) bool) {
		for _, r := range recs {
			if !yield(r, nil) {
				return
			}
		}
	}); err != nil {
		h.Fatal(err)
	}
	h.wantIDs("imported", find(fresh), []string{tev.ID, res[0].Event.ID})

	// Erased content is not searchable.
	if _, err := h.s.EraseEvent(h.ctx, tev.ID, t0.Add(3*time.Second)); err != nil {
		h.Fatal(err)
	}
	h.wantIDs("after erase", find(h.s), []string{res[0].Event.ID})
	h.wantIDs("erased event still listed", h.listEvents(h.s, store.EventFilter{Since: t0.Add(2 * time.Second)}), []string{tev.ID})

	// Prune: the event's deliveries complete, then everything goes.
	for _, j := range h.claim(t0.Add(4*time.Second), 10) {
		h.succeed(t0.Add(4*time.Second), j)
	}
	if _, err := h.s.Prune(h.ctx, store.PruneParams{Before: t0.Add(time.Hour)}); err != nil {
		h.Fatal(err)
	}
	h.wantIDs("after prune", find(h.s), nil)
	h.wantIDs("events after prune", h.listEvents(h.s, store.EventFilter{}), nil)
}
