package storetest

import (
	"bytes"
	"maps"
	"slices"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func testClaimAndComplete(h *harness) {
	e := h.endpoint("acme", nil)
	ev, ds := h.event("acme", "invoice.paid", t0)
	d := ds[0]

	jobs := h.claim(t0, 10)
	if len(jobs) != 1 {
		h.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	j := jobs[0]
	want := *d
	want.Claim = d.Claim + 1
	want.NextAttemptAt = t0.Add(lease)
	want.UpdatedAt = j.Delivery.UpdatedAt
	wantDelivery(h, &j.Delivery, &want)
	if j.Event.ID != ev.ID || j.Event.Type != "invoice.paid" || j.Event.Tenant != "acme" || !bytes.Equal(j.Event.Payload, ev.Payload) || !j.Event.CreatedAt.Equal(t0) {
		h.Fatalf("job event = %+v, want %+v", j.Event, ev)
	}
	wantEndpoint(h, &j.Endpoint, e)
	stored := h.delivery(d.ID)
	want.UpdatedAt = stored.UpdatedAt
	wantDelivery(h, stored, &want)

	// Leased: not due again until the lease ends.
	h.wantIDs("claim while leased", h.claimIDs(t0, 10), nil)
	h.wantIDs("claim just before the lease ends", h.claimIDs(t0.Add(lease-time.Millisecond), 10), nil)

	r := result(j, store.StatusSucceeded, 200, t0.Add(time.Second), time.Time{})
	if lost := h.complete(r); len(lost) != 0 {
		h.Fatalf("lost = %v", lost)
	}
	got := h.wantStatus(d.ID, store.StatusSucceeded)
	if got.Attempts != 1 || got.LastStatus != 200 || got.LastError != "" || got.CompletedAt == nil || got.Claim != j.Delivery.Claim {
		h.Fatalf("after success: %+v", got)
	}
	atts, err := h.s.ListAttempts(h.ctx, d.ID)
	if err != nil || len(atts) != 1 {
		h.Fatalf("ListAttempts = %d, %v", len(atts), err)
	}
	a := atts[0]
	w := r.Attempt
	if a.ID != w.ID || a.DeliveryID != d.ID || a.EndpointID != e.ID || a.EventID != ev.ID || a.Number != 1 ||
		!a.StartedAt.Equal(w.StartedAt) || a.Duration != w.Duration || a.URL != w.URL || a.StatusCode != 200 ||
		a.Error != "" || !bytes.Equal(a.ResponseBody, w.ResponseBody) || a.Trigger != "scheduled" || !maps.Equal(a.RequestHeaders, w.RequestHeaders) {
		h.Fatalf("attempt = %+v\nwant %+v", a, w)
	}

	h.wantIDs("claim after success", h.claimIDs(t0.Add(time.Hour), 10), nil)
	// The claim is no longer pending: completing it again is stale.
	if lost := h.complete(r); !slices.Equal(lost, []int{0}) {
		h.Fatalf("completing twice: lost = %v, want [0]", lost)
	}
	if atts, _ := h.s.ListAttempts(h.ctx, d.ID); len(atts) != 1 {
		h.Fatalf("a stale completion recorded an attempt: %d attempts", len(atts))
	}

	_, err = h.s.GetDelivery(h.ctx, "dlv_missing")
	wantErr(h, "GetDelivery(missing)", err, store.ErrNotFound)
	if atts, err := h.s.ListAttempts(h.ctx, "dlv_missing"); err != nil || len(atts) != 0 {
		h.Fatalf("ListAttempts(missing) = %d, %v", len(atts), err)
	}
	if jobs := h.claim(t0.Add(time.Hour), 0); len(jobs) != 0 {
		h.Fatalf("Limit 0 claimed %d", len(jobs))
	}
}

func testClaimNotDue(h *harness) {
	h.endpoint("", nil)
	d := h.event1("", "a", t0.Add(time.Hour))
	h.wantIDs("claim before due", h.claimIDs(t0, 10), nil)
	h.wantIDs("claim 1ms before due", h.claimIDs(t0.Add(time.Hour-time.Millisecond), 10), nil)
	h.wantIDs("claim when due", h.claimIDs(t0.Add(time.Hour), 10), []string{d.ID})
}

func testClaimOldestDueFirst(h *harness) {
	h.endpoint("", nil)
	byOffset := map[int]string{}
	for _, s := range []int{3, 1, 2, 0, 4} {
		byOffset[s] = h.event1("", "a", t0.Add(time.Duration(s)*time.Second)).ID
	}
	at := t0.Add(10 * time.Second)
	h.wantIDs("first two", h.claimIDs(at, 2), sorted(byOffset[0], byOffset[1]))
	h.wantIDs("next two", h.claimIDs(at, 2), sorted(byOffset[2], byOffset[3]))
	h.wantIDs("rest", h.claimIDs(at, 10), []string{byOffset[4]})
}

func testRetryLater(h *harness) {
	h.endpoint("", nil)
	d := h.event1("", "a", t0)
	j := h.claim(t0, 1)[0]
	next := t0.Add(time.Minute)
	if lost := h.complete(result(j, store.StatusPending, 503, t0.Add(time.Second), next)); len(lost) != 0 {
		h.Fatalf("lost %v", lost)
	}
	got := h.wantStatus(d.ID, store.StatusPending)
	if got.Attempts != 1 || !got.NextAttemptAt.Equal(next) || got.LastStatus != 503 || got.CompletedAt != nil {
		h.Fatalf("after a retryable failure: %+v", got)
	}
	h.wantIDs("before the retry is due", h.claimIDs(next.Add(-time.Millisecond), 10), nil)
	jobs := h.claim(next, 10)
	if len(jobs) != 1 || jobs[0].Delivery.Claim <= j.Delivery.Claim || jobs[0].Delivery.Attempts != 1 {
		h.Fatalf("retry claim = %+v", jobs)
	}
	if lost := h.complete(result(jobs[0], store.StatusFailed, 0, next, time.Time{})); len(lost) != 0 {
		h.Fatalf("lost %v", lost)
	}
	got = h.wantStatus(d.ID, store.StatusFailed)
	if got.Attempts != 2 || got.LastStatus != 0 || got.LastError == "" || got.CompletedAt == nil {
		h.Fatalf("after the final failure: %+v", got)
	}
	atts, err := h.s.ListAttempts(h.ctx, d.ID)
	if err != nil || len(atts) != 2 || atts[0].Number != 1 || atts[1].Number != 2 || atts[0].StatusCode != 503 || atts[1].Error == "" || atts[1].ResponseBody != nil && len(atts[1].ResponseBody) != 0 {
		h.Fatalf("attempts = %+v, %v", atts, err)
	}
	h.wantIDs("claim after failure", h.claimIDs(next.Add(time.Hour), 10), nil)
}

func testLeaseExpiry(h *harness) {
	h.endpoint("", nil)
	d := h.event1("", "a", t0)
	j1 := h.claim(t0, 1)[0]
	h.wantIDs("before expiry", h.claimIDs(t0.Add(lease-time.Millisecond), 1), nil)
	// The worker died: once the lease is over the delivery is due again.
	jobs := h.claim(t0.Add(lease), 1)
	if len(jobs) != 1 || jobs[0].Delivery.ID != d.ID {
		h.Fatalf("re-claim = %v", jobIDs(jobs))
	}
	j2 := jobs[0]
	if j2.Delivery.Claim <= j1.Delivery.Claim || !j2.Delivery.NextAttemptAt.Equal(t0.Add(2*lease)) {
		h.Fatalf("re-claim delivery = %+v (first claim %d)", j2.Delivery, j1.Delivery.Claim)
	}
	// The first worker wakes up: its result is stale.
	if lost := h.complete(result(j1, store.StatusSucceeded, 200, t0, time.Time{})); !slices.Equal(lost, []int{0}) {
		h.Fatalf("stale completion: lost = %v, want [0]", lost)
	}
	got := h.wantStatus(d.ID, store.StatusPending)
	if got.Attempts != 0 || got.Claim != j2.Delivery.Claim {
		h.Fatalf("a stale completion changed the delivery: %+v", got)
	}
	if atts, _ := h.s.ListAttempts(h.ctx, d.ID); len(atts) != 0 {
		h.Fatalf("a stale completion recorded %d attempts", len(atts))
	}
	h.succeed(t0.Add(lease), j2)
	h.wantStatus(d.ID, store.StatusSucceeded)
}

func testStaleCompletion(h *harness) {
	h.endpoint("", nil)
	var ids []string
	for range 3 {
		ids = append(ids, h.event1("", "a", t0).ID)
	}
	first := h.claim(t0, 10)
	second := h.claim(t0.Add(lease), 10) // every lease ran out
	if len(first) != 3 || len(second) != 3 {
		h.Fatalf("claims: %d and %d, want 3 and 3", len(first), len(second))
	}
	byID := func(jobs []*store.Job, id string) *store.Job {
		for _, j := range jobs {
			if j.Delivery.ID == id {
				return j
			}
		}
		h.Fatalf("no job for %s", id)
		return nil
	}
	ghost := result(byID(first, ids[0]), store.StatusSucceeded, 200, t0, time.Time{})
	ghost.DeliveryID = "dlv_missing"
	lost := h.complete(
		result(byID(first, ids[0]), store.StatusSucceeded, 200, t0, time.Time{}),  // stale
		result(byID(second, ids[1]), store.StatusSucceeded, 200, t0, time.Time{}), // current
		result(byID(first, ids[2]), store.StatusFailed, 500, t0, time.Time{}),     // stale
		ghost, // no such delivery
		result(byID(second, ids[0]), store.StatusPending, 500, t0, t0.Add(time.Hour)), // current
	)
	if !slices.Equal(lost, []int{0, 2, 3}) {
		h.Fatalf("lost = %v, want [0 2 3]", lost)
	}
	if d := h.wantStatus(ids[0], store.StatusPending); d.Attempts != 1 || !d.NextAttemptAt.Equal(t0.Add(time.Hour)) {
		h.Fatalf("delivery 0 = %+v", d)
	}
	h.wantStatus(ids[1], store.StatusSucceeded)
	if d := h.wantStatus(ids[2], store.StatusPending); d.Attempts != 0 {
		h.Fatalf("delivery 2 = %+v", d)
	}
}

func testDisabledEndpoint(h *harness) {
	on := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"on"} })
	off := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"off"} })
	d1 := h.event1("", "on", t0)
	d2 := h.event1("", "off", t0)
	d3 := h.event1("", "off", t0.Add(time.Second))
	off.Disabled, off.DisabledReason = true, "manual"
	h.update(off)
	h.wantIDs("claim with one endpoint disabled", h.claimIDs(t0.Add(time.Minute), 10), []string{d1.ID})
	h.wantStatus(d2.ID, store.StatusPending)
	off.Disabled, off.DisabledReason = false, ""
	h.update(off)
	h.wantIDs("claim after re-enabling", h.claimIDs(t0.Add(time.Minute), 10), sorted(d2.ID, d3.ID))
	_ = on
}

func testFIFO(h *harness) {
	f := h.endpoint("", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"fifo.*"} })
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"plain.*"} })
	// Accepted in the order a, b, c, although b and c were created earlier:
	// FIFO follows acceptance.
	a := h.event1("", "fifo.x", t0.Add(2*time.Second))
	b := h.event1("", "fifo.x", t0.Add(time.Second))
	c := h.event1("", "fifo.x", t0)
	p1 := h.event1("", "plain.x", t0)
	p2 := h.event1("", "plain.x", t0)
	if !a.FIFO || p1.FIFO {
		h.Fatalf("Delivery.FIFO: fifo endpoint %v, plain %v", a.FIFO, p1.FIFO)
	}

	// The head is not due yet: nothing of the FIFO endpoint is.
	jobs := h.claim(t0.Add(time.Second), 10)
	h.wantIDs("head not due", jobIDs(jobs), sorted(p1.ID, p2.ID))
	h.succeed(t0, jobs...)
	at := t0.Add(10 * time.Second)
	jobs = h.claim(at, 10)
	h.wantIDs("FIFO head only", jobIDs(jobs), []string{a.ID})
	h.wantIDs("head leased", h.claimIDs(at, 10), nil)

	// The head waits for a retry: the others wait behind it.
	retryAt := at.Add(time.Minute)
	h.complete(result(jobs[0], store.StatusPending, 500, at, retryAt))
	h.wantIDs("head waiting for a retry", h.claimIDs(retryAt.Add(-time.Millisecond), 10), nil)
	jobs = h.claim(retryAt, 10)
	h.wantIDs("head retried", jobIDs(jobs), []string{a.ID})
	h.succeed(retryAt, jobs...)
	jobs = h.claim(retryAt, 10)
	h.wantIDs("second", jobIDs(jobs), []string{b.ID})
	h.fail(retryAt, jobs...)
	jobs = h.claim(retryAt, 10)
	h.wantIDs("third", jobIDs(jobs), []string{c.ID})
	// A head whose worker died comes back after its lease, still alone.
	d := h.event1("", "fifo.x", t0)
	h.wantIDs("head lease not over", h.claimIDs(retryAt.Add(lease-time.Millisecond), 10), nil)
	jobs = h.claim(retryAt.Add(lease), 10)
	h.wantIDs("head after lease expiry", jobIDs(jobs), []string{c.ID})
	h.succeed(retryAt, jobs...)
	h.wantIDs("last", h.claimIDs(retryAt.Add(lease), 10), []string{d.ID})
	_ = f
}

func testFIFOChanges(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	d1, d2, d3 := h.event1("", "a", t0), h.event1("", "a", t0), h.event1("", "a", t0)
	e.FIFO = true
	h.update(e)
	jobs := h.claim(t0, 10)
	h.wantIDs("after turning FIFO on", jobIDs(jobs), []string{d1.ID})
	if !h.delivery(d2.ID).FIFO {
		h.Fatalf("pending delivery of a FIFO endpoint has FIFO false")
	}
	h.succeed(t0, jobs...)
	second := h.claim(t0, 10)
	h.wantIDs("next head", jobIDs(second), []string{d2.ID})
	e.FIFO = false
	h.update(e)
	jobs = h.claim(t0, 10)
	h.wantIDs("after turning FIFO off", jobIDs(jobs), []string{d3.ID})
	h.succeed(t0, append(jobs, second...)...)

	f := h.endpoint("", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"f"} })
	g1, g2 := h.event1("", "f", t0), h.event1("", "f", t0)
	f.Disabled, f.DisabledReason = true, "manual"
	h.update(f)
	h.wantIDs("FIFO endpoint disabled", h.claimIDs(t0, 10), nil)
	f.Disabled, f.DisabledReason = false, ""
	h.update(f)
	jobs = h.claim(t0, 10)
	h.wantIDs("FIFO endpoint re-enabled", jobIDs(jobs), []string{g1.ID})
	h.fail(t0, jobs...)
	jobs = h.claim(t0, 10)
	h.wantIDs("after the head failed", jobIDs(jobs), []string{g2.ID})
	h.fail(t0, jobs...)

	// Replayed, the failed deliveries go one at a time again, oldest first.
	later := t0.Add(time.Hour)
	if n, err := h.s.ReplayFailed(h.ctx, f.ID, t0.Add(-time.Hour), later); err != nil || n != 2 {
		h.Fatalf("ReplayFailed = %d, %v; want 2", n, err)
	}
	jobs = h.claim(later, 10)
	h.wantIDs("replayed head", jobIDs(jobs), []string{g1.ID})
	h.succeed(later, jobs...)
	jobs = h.claim(later, 10)
	h.wantIDs("replayed second", jobIDs(jobs), []string{g2.ID})
	h.succeed(later, jobs...)

	// A retried delivery joins the line in acceptance order.
	g3 := h.event1("", "f", later)
	if _, err := h.s.RetryDelivery(h.ctx, g1.ID, later); err != nil {
		h.Fatalf("RetryDelivery: %v", err)
	}
	jobs = h.claim(later, 10)
	h.wantIDs("retried older delivery first", jobIDs(jobs), []string{g1.ID})
	h.succeed(later, jobs...)
	h.wantIDs("then the newer one", h.claimIDs(later, 10), []string{g3.ID})
}

func testExcludeEndpoints(h *harness) {
	var eps []*store.Endpoint
	byEndpoint := map[string][]string{}
	for range 3 {
		eps = append(eps, h.endpoint("", nil))
	}
	for range 2 {
		_, ds := h.event("", "a", t0)
		for _, d := range ds {
			byEndpoint[d.EndpointID] = append(byEndpoint[d.EndpointID], d.ID)
		}
	}
	h.wantIDs("excluding two", h.claimIDs(t0, 10, eps[0].ID, eps[1].ID, "ep_unknown"), sorted(byEndpoint[eps[2].ID]...))
	h.wantIDs("excluding the third", h.claimIDs(t0, 10, eps[2].ID), sorted(append(byEndpoint[eps[0].ID], byEndpoint[eps[1].ID]...)...))
}

func testDeleteEndpointCancels(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	keep := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"other"} })
	ok := h.event1("", "a", t0)
	failed := h.event1("", "a", t0)
	jobs := h.claim(t0, 10)
	for _, j := range jobs {
		if j.Delivery.ID == ok.ID {
			h.succeed(t0, j)
		} else {
			h.fail(t0, j)
		}
	}
	due := h.event1("", "a", t0)
	inFlight := h.event1("", "a", t0.Add(time.Second))
	retrying := h.event1("", "a", t0.Add(2*time.Second))
	other := h.event1("", "other", t0.Add(time.Hour))
	flight := h.claim(t0.Add(time.Second), 1) // due is older: claim the due one
	h.wantIDs("claim", jobIDs(flight), []string{due.ID})
	flight2 := h.claim(t0.Add(2*time.Second), 2)
	h.wantIDs("claim", jobIDs(flight2), sorted(inFlight.ID, retrying.ID))
	for _, j := range flight2 {
		if j.Delivery.ID == retrying.ID {
			h.complete(result(j, store.StatusPending, 500, t0, t0.Add(time.Hour)))
		}
	}

	if err := h.s.DeleteEndpoint(h.ctx, e.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	for _, id := range []string{due.ID, inFlight.ID, retrying.ID} {
		if d := h.wantStatus(id, store.StatusCanceled); d.CompletedAt == nil {
			h.Fatalf("canceled delivery without CompletedAt: %+v", d)
		}
	}
	h.wantStatus(ok.ID, store.StatusSucceeded)
	h.wantStatus(failed.ID, store.StatusFailed)
	h.wantStatus(other.ID, store.StatusPending)
	if atts, _ := h.s.ListAttempts(h.ctx, ok.ID); len(atts) != 1 {
		h.Fatalf("history lost: %d attempts", len(atts))
	}
	list, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{EndpointID: e.ID})
	if err != nil || len(list) != 5 {
		h.Fatalf("ListDeliveries of the deleted endpoint = %d, %v; want 5", len(list), err)
	}
	jobs = h.claim(t0.Add(2*time.Hour), 10)
	h.wantIDs("claim after delete", jobIDs(jobs), []string{other.ID})
	h.succeed(t0, jobs...)
	// The worker that held a claim finishes after the delete.
	for _, j := range flight2 {
		if j.Delivery.ID == inFlight.ID {
			if lost := h.complete(result(j, store.StatusSucceeded, 200, t0, time.Time{})); !slices.Equal(lost, []int{0}) {
				h.Fatalf("completing a canceled delivery: lost = %v, want [0]", lost)
			}
		}
	}
	h.wantStatus(inFlight.ID, store.StatusCanceled)
	// Retrying either kind of delivery of a deleted endpoint fails and
	// queues nothing.
	for _, id := range []string{due.ID, failed.ID} {
		if _, err := h.s.RetryDelivery(h.ctx, id, t0.Add(3*time.Hour)); err == nil {
			h.Fatalf("RetryDelivery of a delivery of a deleted endpoint succeeded")
		}
	}
	h.wantIDs("claim after retries", h.claimIDs(t0.Add(4*time.Hour), 10), nil)
	_ = keep
}

func testRetryDelivery(h *harness) {
	h.endpoint("", nil)
	_, err := h.s.RetryDelivery(h.ctx, "dlv_missing", t0)
	wantErr(h, "RetryDelivery(missing)", err, store.ErrNotFound)

	d := h.event1("", "a", t0)
	h.fail(t0, h.claim(t0, 1)...)
	at := t0.Add(time.Hour)
	got, err := h.s.RetryDelivery(h.ctx, d.ID, at)
	if err != nil {
		h.Fatalf("RetryDelivery(failed): %v", err)
	}
	if got.ID != d.ID || got.Status != store.StatusPending || !got.NextAttemptAt.Equal(at) || got.CompletedAt != nil || got.Attempts != 1 {
		h.Fatalf("RetryDelivery(failed) = %+v", got)
	}
	wantDelivery(h, h.delivery(d.ID), got)
	h.wantIDs("before due", h.claimIDs(at.Add(-time.Millisecond), 10), nil)
	jobs := h.claim(at, 10)
	h.wantIDs("after retry", jobIDs(jobs), []string{d.ID})

	// In flight: refused, nothing changes.
	_, err = h.s.RetryDelivery(h.ctx, d.ID, at.Add(time.Second))
	wantErr(h, "RetryDelivery(in flight)", err, store.ErrConflict)
	wantDelivery(h, h.delivery(d.ID), &jobs[0].Delivery)
	// Once the lease is over it is no longer in flight.
	if _, err := h.s.RetryDelivery(h.ctx, d.ID, at.Add(lease)); err != nil {
		h.Fatalf("RetryDelivery after the lease: %v", err)
	}
	jobs = h.claim(at.Add(lease), 10)
	h.wantIDs("claim after lease", jobIDs(jobs), []string{d.ID})

	// Waiting for a retry: due at once.
	h.complete(result(jobs[0], store.StatusPending, 500, at, at.Add(24*time.Hour)))
	at2 := at.Add(time.Minute)
	if got, err := h.s.RetryDelivery(h.ctx, d.ID, at2); err != nil || !got.NextAttemptAt.Equal(at2) || got.Status != store.StatusPending {
		h.Fatalf("RetryDelivery(waiting) = %+v, %v", got, err)
	}
	jobs = h.claim(at2, 10)
	h.wantIDs("claim after retry of a waiting delivery", jobIDs(jobs), []string{d.ID})
	if jobs[0].Delivery.Attempts != 2 {
		h.Fatalf("attempts = %d, want 2", jobs[0].Delivery.Attempts)
	}
	// Succeeded: sent again.
	h.succeed(at2, jobs...)
	at3 := at2.Add(time.Minute)
	if got, err := h.s.RetryDelivery(h.ctx, d.ID, at3); err != nil || got.Status != store.StatusPending || got.CompletedAt != nil {
		h.Fatalf("RetryDelivery(succeeded) = %+v, %v", got, err)
	}
	h.wantIDs("claim after retry of a succeeded delivery", h.claimIDs(at3, 10), []string{d.ID})
}

func testReplayFailed(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	o := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"b"} })
	old := h.event1("", "a", t0.Add(-2*time.Hour))
	f1 := h.event1("", "a", t0)
	f2 := h.event1("", "a", t0.Add(time.Minute))
	ok := h.event1("", "a", t0)
	of := h.event1("", "b", t0)
	at := t0.Add(2 * time.Minute)
	for _, j := range h.claim(at, 10) {
		if j.Delivery.ID == ok.ID {
			h.succeed(at, j)
		} else {
			h.fail(at, j)
		}
	}
	pending := h.event1("", "a", t0.Add(48*time.Hour))

	replayAt := t0.Add(time.Hour)
	n, err := h.s.ReplayFailed(h.ctx, e.ID, t0, replayAt)
	if err != nil || n != 2 {
		h.Fatalf("ReplayFailed = %d, %v; want 2", n, err)
	}
	for _, id := range []string{f1.ID, f2.ID} {
		d := h.wantStatus(id, store.StatusPending)
		if !d.NextAttemptAt.Equal(replayAt) || d.CompletedAt != nil || d.Attempts != 1 {
			h.Fatalf("replayed delivery = %+v", d)
		}
	}
	h.wantStatus(old.ID, store.StatusFailed)
	h.wantStatus(ok.ID, store.StatusSucceeded)
	h.wantStatus(of.ID, store.StatusFailed)
	h.wantStatus(pending.ID, store.StatusPending)
	h.wantIDs("claim replayed", h.claimIDs(replayAt, 10), sorted(f1.ID, f2.ID))
	if n, err := h.s.ReplayFailed(h.ctx, e.ID, t0, replayAt); err != nil || n != 0 {
		h.Fatalf("second ReplayFailed = %d, %v; want 0", n, err)
	}
	if n, err := h.s.ReplayFailed(h.ctx, "ep_missing", t0, replayAt); n != 0 || err != nil && !isNotFound(err) {
		h.Fatalf("ReplayFailed(missing endpoint) = %d, %v", n, err)
	}
	_ = o
}

func testFailingSince(h *harness) {
	e := h.endpoint("", nil)
	for range 3 {
		h.event1("", "a", t0)
	}
	jobs := h.claim(t0, 10)
	failingSince := func() *time.Time { return h.getEndpoint(e.ID).FailingSince }
	if fs := failingSince(); fs != nil {
		h.Fatalf("new endpoint FailingSince = %v", fs)
	}
	h.complete(result(jobs[0], store.StatusPending, 503, t0.Add(time.Second), t0.Add(time.Minute)))
	if fs := failingSince(); !sameTimePtr(fs, new(t0.Add(time.Second))) {
		h.Fatalf("after a failed attempt FailingSince = %s, want %s", fmtTimePtr(fs), t0.Add(time.Second))
	}
	h.complete(result(jobs[1], store.StatusFailed, 500, t0.Add(2*time.Second), time.Time{}))
	if fs := failingSince(); !sameTimePtr(fs, new(t0.Add(time.Second))) {
		h.Fatalf("after a second failed attempt FailingSince = %s, want the first failure", fmtTimePtr(fs))
	}
	h.complete(result(jobs[2], store.StatusSucceeded, 200, t0.Add(3*time.Second), time.Time{}))
	if fs := failingSince(); fs != nil {
		h.Fatalf("after a success FailingSince = %s, want nil", fmtTimePtr(fs))
	}
	jobs = h.claim(t0.Add(time.Minute), 10)
	h.complete(result(jobs[0], store.StatusPending, 0, t0.Add(time.Minute), t0.Add(time.Hour)))
	if fs := failingSince(); !sameTimePtr(fs, new(t0.Add(time.Minute))) {
		h.Fatalf("after a new failure FailingSince = %s, want %s", fmtTimePtr(fs), t0.Add(time.Minute))
	}
}

func testDisableFailingEndpoints(h *harness) {
	cutoff := t0.Add(-time.Hour)
	a := h.endpoint("", func(e *store.Endpoint) { e.FailingSince = new(t0.Add(-2 * time.Hour)) })
	b := h.endpoint("", func(e *store.Endpoint) { e.FailingSince = new(t0.Add(-30 * time.Minute)) })
	c := h.endpoint("", nil)
	h.endpoint("", func(e *store.Endpoint) {
		e.FailingSince = new(t0.Add(-3 * time.Hour))
		e.Disabled, e.DisabledReason = true, "manual"
	})
	_, ds := h.event("", "a", t0)
	var aDelivery string
	for _, d := range ds {
		if d.EndpointID == a.ID {
			aDelivery = d.ID
		}
	}
	got, err := h.s.DisableFailingEndpoints(h.ctx, cutoff, "auto: failing for over an hour")
	if err != nil {
		h.Fatalf("DisableFailingEndpoints: %v", err)
	}
	if len(got) != 1 || got[0].ID != a.ID || !got[0].Disabled || got[0].DisabledReason != "auto: failing for over an hour" {
		h.Fatalf("DisableFailingEndpoints = %+v, want only %s, disabled", got, a.ID)
	}
	if ea := h.getEndpoint(a.ID); !ea.Disabled || ea.DisabledReason != "auto: failing for over an hour" || !sameTimePtr(ea.FailingSince, a.FailingSince) {
		h.Fatalf("disabled endpoint = %+v", ea)
	}
	if h.getEndpoint(b.ID).Disabled || h.getEndpoint(c.ID).Disabled {
		h.Fatalf("an endpoint failing for less than the cutoff was disabled")
	}
	claimed := h.claimIDs(t0, 10)
	if slices.Contains(claimed, aDelivery) || len(claimed) != 2 {
		h.Fatalf("claimed %v; want b's and c's only, not %s", claimed, aDelivery)
	}
	h.wantStatus(aDelivery, store.StatusPending)
	if got, err := h.s.DisableFailingEndpoints(h.ctx, cutoff, "again"); err != nil || len(got) != 0 {
		h.Fatalf("second DisableFailingEndpoints = %d endpoints, %v", len(got), err)
	}
	st, err := h.s.QueueStats(h.ctx, t0)
	if err != nil || st.DisabledEndpoints != 2 {
		h.Fatalf("QueueStats.DisabledEndpoints = %d, %v; want 2", st.DisabledEndpoints, err)
	}
}

func testQueueStats(h *harness) {
	st, err := h.s.QueueStats(h.ctx, t0)
	if err != nil || st != (store.QueueStats{}) {
		h.Fatalf("empty QueueStats = %+v, %v", st, err)
	}
	h.endpoint("", nil)
	h.event1("", "a", t0.Add(-10*time.Second))
	h.event1("", "a", t0.Add(-5*time.Second))
	h.event1("", "a", t0.Add(time.Hour))
	st, err = h.s.QueueStats(h.ctx, t0)
	if want := (store.QueueStats{Pending: 3, Due: 2, OldestDueAge: 10 * time.Second}); err != nil || st != want {
		h.Fatalf("QueueStats = %+v, %v; want %+v", st, err, want)
	}
	jobs := h.claim(t0, 1)
	st, err = h.s.QueueStats(h.ctx, t0)
	if want := (store.QueueStats{Pending: 3, Due: 1, OldestDueAge: 5 * time.Second}); err != nil || st != want {
		h.Fatalf("QueueStats after a claim = %+v, %v; want %+v", st, err, want)
	}
	h.succeed(t0, jobs...)
	h.endpoint("", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	st, err = h.s.QueueStats(h.ctx, t0)
	if want := (store.QueueStats{Pending: 2, Due: 1, OldestDueAge: 5 * time.Second, DisabledEndpoints: 1}); err != nil || st != want {
		h.Fatalf("QueueStats after a success = %+v, %v; want %+v", st, err, want)
	}
}

func testListDeliveries(h *harness) {
	a := h.endpoint("acme", nil)
	b := h.endpoint("acme", nil)
	h.endpoint("beta", nil)
	ev1, ds1 := h.event("acme", "invoice.paid", t0)
	_, ds2 := h.event("acme", "order.created", t0.Add(time.Hour))
	_, ds3 := h.event("beta", "invoice.paid", t0.Add(2*time.Hour))
	if len(ds1) != 2 || len(ds2) != 2 || len(ds3) != 1 {
		h.Fatalf("fan-out: %d %d %d", len(ds1), len(ds2), len(ds3))
	}
	var succeeded string
	for _, j := range h.claim(t0, 10) {
		if j.Delivery.EndpointID == a.ID {
			h.succeed(t0, j)
			succeeded = j.Delivery.ID
		}
	}
	byEndpoint := func(ds []*store.Delivery, id string) string {
		for _, d := range ds {
			if d.EndpointID == id {
				return d.ID
			}
		}
		return ""
	}
	acme, beta, none := "acme", "beta", ""
	all := deliveryIDs(slices.Concat(ds1, ds2, ds3))
	for _, tc := range []struct {
		name string
		f    store.DeliveryFilter
		want []string
	}{
		{"all", store.DeliveryFilter{}, all},
		{"tenant acme", store.DeliveryFilter{Tenant: &acme}, deliveryIDs(slices.Concat(ds1, ds2))},
		{"tenant beta", store.DeliveryFilter{Tenant: &beta}, deliveryIDs(ds3)},
		{"default tenant", store.DeliveryFilter{Tenant: &none}, nil},
		{"event", store.DeliveryFilter{EventID: ev1.ID}, deliveryIDs(ds1)},
		{"endpoint", store.DeliveryFilter{EndpointID: a.ID}, sorted(byEndpoint(ds1, a.ID), byEndpoint(ds2, a.ID))},
		{"event type", store.DeliveryFilter{EventType: "invoice.paid"}, deliveryIDs(slices.Concat(ds1, ds3))},
		{"succeeded", store.DeliveryFilter{Status: store.StatusSucceeded}, []string{succeeded}},
		{"pending", store.DeliveryFilter{Status: store.StatusPending}, slices.DeleteFunc(slices.Clone(all), func(id string) bool { return id == succeeded })},
		{"since", store.DeliveryFilter{Since: t0.Add(time.Hour)}, deliveryIDs(slices.Concat(ds2, ds3))},
		{"until", store.DeliveryFilter{Until: t0.Add(time.Hour)}, deliveryIDs(ds1)},
		{"since and until", store.DeliveryFilter{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}, deliveryIDs(ds2)},
		{"combined", store.DeliveryFilter{Tenant: &acme, EndpointID: b.ID, Status: store.StatusPending}, sorted(byEndpoint(ds1, b.ID), byEndpoint(ds2, b.ID))},
	} {
		got, next, err := h.s.ListDeliveries(h.ctx, tc.f)
		if err != nil || next != "" {
			h.Fatalf("%s: ListDeliveries: next %q, %v", tc.name, next, err)
		}
		ids := make([]string, len(got))
		for i, d := range got {
			ids[i] = d.ID
		}
		if !slices.IsSortedFunc(ids, func(a, b string) int { return -cmpString(a, b) }) {
			h.Fatalf("%s: not newest first: %v", tc.name, ids)
		}
		slices.Sort(ids)
		h.wantIDs(tc.name, ids, tc.want)
	}
}

func testListDeliveriesPagination(h *harness) {
	h.endpoint("", nil)
	original := map[string]bool{}
	created := 25
	for i := range created {
		original[h.event1("", "a", t0.Add(time.Duration(i)*time.Second)).ID] = true
	}
	seen := map[string]bool{}
	var order []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			h.Fatalf("pagination does not end")
		}
		page, next, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Page: store.Page{Limit: 7, Cursor: cursor}})
		if err != nil {
			h.Fatalf("ListDeliveries: %v", err)
		}
		if len(page) > 7 {
			h.Fatalf("page of %d, limit 7", len(page))
		}
		for _, d := range page {
			if seen[d.ID] {
				h.Fatalf("delivery %s listed twice", d.ID)
			}
			seen[d.ID] = true
			order = append(order, d.ID)
		}
		if next == "" {
			break
		}
		cursor = next
		// New deliveries between pages neither repeat nor hide old ones.
		h.event1("", "a", t0)
		h.event1("", "a", t0)
		created += 2
	}
	for id := range original {
		if !seen[id] {
			h.Fatalf("delivery %s never listed", id)
		}
	}
	if !slices.IsSortedFunc(order, func(a, b string) int { return -cmpString(a, b) }) {
		h.Fatalf("pages not newest first: %v", order)
	}
	page, next, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{})
	if err != nil || len(page) != min(50, created) || (next == "") != (created <= 50) {
		h.Fatalf("default page: %d deliveries, next %q, %v", len(page), next, err)
	}
}
