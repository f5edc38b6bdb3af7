package storetest

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// replayTests are the tests of store.Replays; Run runs them with the
// others.
var replayTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"EventsStoredWithoutEndpoints", testEventsStoredWithoutEndpoints},
	{"ReplayMissing", testReplayMissing},
	{"ReplayMissingBatches", testReplayMissingBatches},
	{"ReplayMissingConcurrent", testReplayMissingConcurrent},
}

// replayAll runs ReplayMissing batch after batch until the window is done
// and returns how many deliveries it created.
func (h *harness) replayAll(p store.ReplayMissingParams) int {
	h.Helper()
	n := 0
	for {
		res, err := h.s.ReplayMissing(h.ctx, p)
		if err != nil {
			h.Fatalf("ReplayMissing: %v", err)
		}
		n += res.Created
		if res.Next == "" {
			return n
		}
		p.After = res.Next
	}
}

// endpointEvents returns the event ids of the endpoint's deliveries, in
// any order.
func (h *harness) endpointEvents(endpointID string) []string {
	h.Helper()
	var out []string
	f := store.DeliveryFilter{EndpointID: endpointID, Page: store.Page{Limit: 1000}}
	for {
		ds, next, err := h.s.ListDeliveries(h.ctx, f)
		if err != nil {
			h.Fatalf("ListDeliveries: %v", err)
		}
		for _, d := range ds {
			out = append(out, d.EventID)
		}
		if next == "" {
			slices.Sort(out)
			return out
		}
		f.Cursor = next
	}
}

func testEventsStoredWithoutEndpoints(h *harness) {
	ev, ds := h.event("lonely", "invoice.paid", t0)
	if len(ds) != 0 {
		h.Fatalf("%d deliveries for a tenant without endpoints", len(ds))
	}
	h.endpoint("off", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	ev2, ds := h.event("off", "invoice.paid", t0)
	if len(ds) != 0 {
		h.Fatalf("%d deliveries for a tenant whose only endpoint is disabled", len(ds))
	}
	for _, id := range []string{ev.ID, ev2.ID} {
		if _, err := h.s.GetEvent(h.ctx, id); err != nil {
			h.Fatalf("GetEvent(%s) of an event no endpoint took: %v", id, err)
		}
	}
}

// testReplayMissing: an endpoint disabled while events were sent gets,
// once enabled and replayed, one delivery for each event it missed that it
// takes, and none twice.
func testReplayMissing(h *harness) {
	on := h.endpoint("t", nil)
	off := h.endpoint("t", func(e *store.Endpoint) { e.EventTypes = []string{"invoice.*"} })
	off.Disabled, off.DisabledReason = true, "manual"
	h.update(off)

	before, _ := h.event("t", "invoice.paid", t0.Add(-time.Hour)) // before the window
	var missed []string
	for i := range 3 {
		ev, ds := h.event("t", "invoice.paid", t0.Add(time.Duration(i)*time.Second))
		if len(ds) != 1 || ds[0].EndpointID != on.ID {
			h.Fatalf("event %d: deliveries %+v, want one to the enabled endpoint", i, ds)
		}
		missed = append(missed, ev.ID)
	}
	h.event("t", "user.created", t0.Add(time.Second))            // not in the filter
	h.event("other", "invoice.paid", t0.Add(time.Second))        // another tenant
	late, _ := h.event("t", "invoice.voided", t0.Add(time.Hour)) // after Until
	// One event the endpoint got before it was disabled: not sent again.
	off.Disabled = false
	h.update(off)
	got, ds := h.event("t", "invoice.paid", t0.Add(4*time.Second))
	if len(ds) != 2 {
		h.Fatalf("event after enabling: %d deliveries, want 2", len(ds))
	}
	slices.Sort(missed)

	p := store.ReplayMissingParams{EndpointID: off.ID, Since: t0, Until: t0.Add(time.Minute), Now: t0.Add(2 * time.Hour)}
	if n := h.replayAll(p); n != len(missed) {
		h.Fatalf("ReplayMissing created %d, want %d", n, len(missed))
	}
	want := append(slices.Clone(missed), got.ID)
	slices.Sort(want)
	h.wantIDs("events delivered to the endpoint", h.endpointEvents(off.ID), want)
	for _, id := range []string{before.ID, late.ID} {
		if slices.Contains(h.endpointEvents(off.ID), id) {
			h.Fatalf("event %s outside the window was replayed", id)
		}
	}
	// Run twice: nothing twice.
	if n := h.replayAll(p); n != 0 {
		h.Fatalf("second ReplayMissing created %d, want 0", n)
	}
	// The new deliveries are due at Now and claimable.
	jobs := h.claimWith(h.s, store.ClaimParams{}, p.Now, 100)
	var claimed []string
	for _, j := range jobs {
		if j.Endpoint.ID == off.ID {
			claimed = append(claimed, j.Event.ID)
		}
	}
	slices.Sort(claimed)
	h.wantIDs("claimed replayed events", claimed, want)

	// Narrowed to types, and without Until.
	p2 := store.ReplayMissingParams{EndpointID: off.ID, Since: t0.Add(-2 * time.Hour), EventTypes: []string{"invoice.voided"}, Now: p.Now}
	if n := h.replayAll(p2); n != 1 {
		h.Fatalf("ReplayMissing of invoice.voided created %d, want 1 (the late event)", n)
	}
	if !slices.Contains(h.endpointEvents(off.ID), late.ID) || slices.Contains(h.endpointEvents(off.ID), before.ID) {
		h.Fatalf("narrowed replay: %v", h.endpointEvents(off.ID))
	}

	if _, err := h.s.ReplayMissing(h.ctx, store.ReplayMissingParams{EndpointID: "ep_nope", Now: p.Now}); !errors.Is(err, store.ErrNotFound) {
		h.Fatalf("ReplayMissing of an unknown endpoint: %v, want ErrNotFound", err)
	}
}

func testReplayMissingBatches(h *harness) {
	e := h.endpoint("t", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	var want []string
	for i := range 7 {
		ev, _ := h.event("t", "a.b", t0.Add(time.Duration(i)*time.Millisecond))
		want = append(want, ev.ID)
		// Some are not taken: the batches must go past them.
		h.event("t", "x.y", t0.Add(time.Duration(i)*time.Millisecond))
	}
	slices.Sort(want)
	e.Disabled, e.EventTypes = false, []string{"a.*"}
	h.update(e)
	p := store.ReplayMissingParams{EndpointID: e.ID, Since: t0, Now: t0.Add(time.Hour), Batch: 3}
	batches := 0
	for {
		res, err := h.s.ReplayMissing(h.ctx, p)
		if err != nil {
			h.Fatalf("ReplayMissing: %v", err)
		}
		batches++
		if res.Scanned > 3 {
			h.Fatalf("a batch of 3 looked at %d events", res.Scanned)
		}
		if res.Next == "" {
			break
		}
		p.After = res.Next
	}
	if batches < 4 {
		h.Fatalf("%d batches for 14 events in batches of 3", batches)
	}
	h.wantIDs("replayed events", h.endpointEvents(e.ID), want)
	if _, err := h.s.ReplayMissing(h.ctx, store.ReplayMissingParams{EndpointID: e.ID, After: "nope"}); err == nil {
		h.Fatal("ReplayMissing with a malformed cursor: no error")
	}
}

// testReplayMissingConcurrent: replays of one endpoint at once create each
// missing delivery once.
func testReplayMissingConcurrent(h *harness) {
	e := h.endpoint("t", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	var want []string
	for i := range 20 {
		ev, _ := h.event("t", "a.b", t0.Add(time.Duration(i)*time.Millisecond))
		want = append(want, ev.ID)
	}
	slices.Sort(want)
	e.Disabled = false
	h.update(e)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
	)
	for range 4 {
		wg.Go(func() {
			p := store.ReplayMissingParams{EndpointID: e.ID, Since: t0, Now: t0.Add(time.Hour), Batch: 5}
			for {
				res, err := h.s.ReplayMissing(h.ctx, p)
				if err != nil {
					h.Errorf("ReplayMissing: %v", err)
					return
				}
				mu.Lock()
				total += res.Created
				mu.Unlock()
				if res.Next == "" {
					return
				}
				p.After = res.Next
			}
		})
	}
	wg.Wait()
	if total != len(want) {
		h.Fatalf("concurrent replays created %d deliveries, want %d", total, len(want))
	}
	h.wantIDs("replayed events", h.endpointEvents(e.ID), want)
}
