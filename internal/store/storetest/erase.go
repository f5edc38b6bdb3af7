package storetest

import (
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// eraseTests are the tests of store.Erasure; Run runs them with the
// others.
var eraseTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"EraseEvent", testEraseEvent},
	{"ErasePayloads", testErasePayloads},
	{"EraseConcurrent", testEraseConcurrent},
}

// wantErased checks that the event is erased at at with its metadata
// kept, and that its attempts keep their outcome but not their content.
func (h *harness) wantErased(ev *store.Event, at time.Time) {
	h.Helper()
	got, err := h.s.GetEvent(h.ctx, ev.ID)
	if err != nil {
		h.Fatalf("GetEvent(%s): %v", ev.ID, err)
	}
	if got.ErasedAt == nil || !got.ErasedAt.Equal(at) {
		h.Fatalf("event %s ErasedAt = %v, want %v", ev.ID, got.ErasedAt, at)
	}
	if len(got.Payload) != 0 || got.Headers != nil {
		h.Fatalf("erased event %s kept payload %q, headers %v", ev.ID, got.Payload, got.Headers)
	}
	if got.Tenant != ev.Tenant || got.Type != ev.Type || !got.CreatedAt.Equal(ev.CreatedAt) {
		h.Fatalf("erased event's metadata = %+v, want that of %+v", got, ev)
	}
}

// testEraseEvent: erasing an event empties its payload, headers and its
// attempts' headers and bodies, keeps the rest, cancels its pending
// deliveries (a FIFO endpoint's next one takes the head), and no retry or
// replay sends it again.
func testEraseEvent(h *harness) {
	a := h.endpoint("t", nil)
	f := h.endpoint("t", func(e *store.Endpoint) { e.FIFO = true })
	in := newEvent("t", "invoice.paid", t0)
	in.Headers = map[string]string{"X-Customer": "alice@example.com"}
	ev1, ds1, err := h.s.CreateEvent(h.ctx, in, time.Time{})
	if err != nil || len(ds1) != 2 {
		h.Fatalf("CreateEvent = %d deliveries, %v", len(ds1), err)
	}
	ev2, ds2 := h.event("t", "invoice.paid", t0.Add(time.Second))
	byEndpoint := func(ds []*store.Delivery, ep string) *store.Delivery {
		for _, d := range ds {
			if d.EndpointID == ep {
				return d
			}
		}
		h.Fatalf("no delivery to %s in %v", ep, deliveryIDs(ds))
		return nil
	}
	a1, f1 := byEndpoint(ds1, a.ID), byEndpoint(ds1, f.ID)
	a2, f2 := byEndpoint(ds2, a.ID), byEndpoint(ds2, f.ID)

	at := t0.Add(time.Minute)
	jobs := h.claim(at, 10)
	h.wantIDs("first claim", jobIDs(jobs), sorted(a1.ID, f1.ID, a2.ID))
	var rs []store.AttemptResult
	for _, j := range jobs {
		switch j.Delivery.ID {
		case a1.ID:
			rs = append(rs, result(j, store.StatusFailed, 500, at, time.Time{}))
		case f1.ID:
			rs = append(rs, result(j, store.StatusPending, 503, at, t0.Add(time.Hour)))
		default:
			rs = append(rs, result(j, store.StatusSucceeded, 200, at, time.Time{}))
		}
	}
	if lost := h.complete(rs...); len(lost) != 0 {
		h.Fatalf("CompleteAttempts lost %v", lost)
	}

	erasedAt := t0.Add(2 * time.Minute)
	got, err := h.s.EraseEvent(h.ctx, ev1.ID, erasedAt)
	if err != nil {
		h.Fatalf("EraseEvent: %v", err)
	}
	if got.ErasedAt == nil || !got.ErasedAt.Equal(erasedAt) || len(got.Payload) != 0 {
		h.Fatalf("EraseEvent returned %+v", got)
	}
	h.wantErased(ev1, erasedAt)
	for _, id := range []string{a1.ID, f1.ID} {
		atts, err := h.s.ListAttempts(h.ctx, id)
		if err != nil || len(atts) != 1 {
			h.Fatalf("ListAttempts(%s) = %d, %v; want the one attempt kept", id, len(atts), err)
		}
		if len(atts[0].RequestHeaders) != 0 || len(atts[0].ResponseBody) != 0 {
			h.Fatalf("erased attempt kept headers %v, body %q", atts[0].RequestHeaders, atts[0].ResponseBody)
		}
		if atts[0].StatusCode == 0 || atts[0].URL == "" {
			h.Fatalf("erased attempt lost its metadata: %+v", atts[0])
		}
	}
	h.wantStatus(a1.ID, store.StatusFailed)
	if d := h.wantStatus(f1.ID, store.StatusCanceled); d.CompletedAt == nil || !d.CompletedAt.Equal(erasedAt) {
		h.Fatalf("canceled delivery's CompletedAt = %v, want %v", d.CompletedAt, erasedAt)
	}
	// The other event is untouched, and its FIFO delivery is the head now.
	if other, err := h.s.GetEvent(h.ctx, ev2.ID); err != nil || other.ErasedAt != nil || string(other.Payload) != string(ev2.Payload) {
		h.Fatalf("other event = %+v, %v", other, err)
	}
	h.wantIDs("claim after erase", h.claimIDs(t0.Add(3*time.Minute), 10), sorted(f2.ID))

	if _, err := h.s.RetryDelivery(h.ctx, a1.ID, t0.Add(4*time.Minute)); !isConflict(err) {
		h.Fatalf("RetryDelivery of an erased event's delivery: %v, want ErrConflict", err)
	}
	if n, err := h.s.ReplayFailed(h.ctx, a.ID, t0.Add(-time.Hour), t0.Add(4*time.Minute)); err != nil || n != 0 {
		h.Fatalf("ReplayFailed = %d, %v; want 0 (the only failed delivery's event is erased)", n, err)
	}
	c := h.endpoint("t", nil)
	if n := h.replayAll(store.ReplayMissingParams{EndpointID: c.ID, Since: t0.Add(-time.Hour), Now: t0.Add(5 * time.Minute)}); n != 1 {
		h.Fatalf("ReplayMissing created %d, want 1 (the erased event skipped)", n)
	}
	h.wantIDs("events replayed to a new endpoint", h.endpointEvents(c.ID), []string{ev2.ID})

	// Erasing again keeps the first time; an unknown event is not found.
	if _, err := h.s.EraseEvent(h.ctx, ev1.ID, t0.Add(time.Hour)); err != nil {
		h.Fatalf("second EraseEvent: %v", err)
	}
	h.wantErased(ev1, erasedAt)
	if _, err := h.s.EraseEvent(h.ctx, "evt_missing", erasedAt); !isNotFound(err) {
		h.Fatalf("EraseEvent(missing) = %v, want ErrNotFound", err)
	}
}

// testErasePayloads: a tenant's events older than the bound are erased,
// batch after batch, and no other's.
func testErasePayloads(h *harness) {
	h.endpoint("r", nil)
	var evs []*store.Event
	for i := range 5 {
		ev, _ := h.event("r", "a", t0.Add(time.Duration(i)*time.Second))
		evs = append(evs, ev)
	}
	other, _ := h.event("other", "a", t0)
	erasedAt := t0.Add(time.Hour)
	p := store.ErasePayloadsParams{Tenant: "r", Before: t0.Add(3 * time.Second), Now: erasedAt, Batch: 2}
	if n, err := h.s.ErasePayloads(h.ctx, p); err != nil || n != 3 {
		h.Fatalf("ErasePayloads = %d, %v; want 3", n, err)
	}
	for _, ev := range evs[:3] {
		h.wantErased(ev, erasedAt)
	}
	for _, ev := range append(evs[3:], other) {
		got, err := h.s.GetEvent(h.ctx, ev.ID)
		if err != nil || got.ErasedAt != nil || string(got.Payload) != string(ev.Payload) {
			h.Fatalf("event %s outside the bound = %+v, %v", ev.ID, got, err)
		}
	}
	if n, err := h.s.ErasePayloads(h.ctx, p); err != nil || n != 0 {
		h.Fatalf("second ErasePayloads = %d, %v; want 0", n, err)
	}
}

// testEraseConcurrent: erasures racing with retries, replays of failures
// and replays of missed events leave no delivery of an erased event
// pending, whichever wins.
func testEraseConcurrent(h *harness) {
	e := h.endpoint("c", nil)
	late := h.endpoint("c", func(e *store.Endpoint) { e.EventTypes = []string{"none"} })
	const n = 16
	var evs []*store.Event
	var ds []*store.Delivery
	for i := range n {
		ev, d := h.event("c", "a", t0.Add(time.Duration(i)*time.Millisecond))
		if len(d) != 1 {
			h.Fatalf("event %d: %d deliveries", i, len(d))
		}
		evs, ds = append(evs, ev), append(ds, d[0])
	}
	h.fail(t0.Add(time.Second), h.claim(t0.Add(time.Second), n)...)
	// late now takes everything: ReplayMissing gives it the events.
	late.EventTypes = nil
	h.update(late)

	at := t0.Add(time.Minute)
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4*n)
	for i := range n {
		wg.Go(func() {
			<-start
			if _, err := h.s.EraseEvent(h.ctx, evs[i].ID, at); err != nil {
				errs <- err
			}
		})
		wg.Go(func() {
			<-start
			if _, err := h.s.RetryDelivery(h.ctx, ds[i].ID, at); err != nil && !isConflict(err) {
				errs <- err
			}
		})
	}
	wg.Go(func() {
		<-start
		if _, err := h.s.ReplayFailed(h.ctx, e.ID, t0.Add(-time.Hour), at); err != nil {
			errs <- err
		}
	})
	wg.Go(func() {
		<-start
		p := store.ReplayMissingParams{EndpointID: late.ID, Since: t0.Add(-time.Hour), Now: at, Batch: 4}
		for {
			res, err := h.s.ReplayMissing(h.ctx, p)
			if err != nil {
				errs <- err
				return
			}
			if res.Next == "" {
				return
			}
			p.After = res.Next
		}
	})
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		h.Fatalf("concurrent call: %v", err)
	}
	for _, ev := range evs {
		f := store.DeliveryFilter{EventID: ev.ID, Page: store.Page{Limit: 100}}
		got, _, err := h.s.ListDeliveries(h.ctx, f)
		if err != nil {
			h.Fatalf("ListDeliveries: %v", err)
		}
		for _, d := range got {
			if d.Status == store.StatusPending {
				h.Fatalf("delivery %s of erased event %s is pending", d.ID, ev.ID)
			}
		}
	}
}
