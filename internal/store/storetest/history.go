package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"iter"
	"reflect"
	"slices"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// historyTests cover targeted events, dashboards' reads, pruning, export
// and import, and FIFO order under retries.
var historyTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"CreateEventFor", testCreateEventFor},
	{"FIFORetryWhileHeadInFlight", testFIFORetryWhileHeadInFlight},
	{"EndpointHealth", testEndpointHealth},
	{"DeliveryHistogram", testDeliveryHistogram},
	{"Prune", testPrune},
	{"ExportImport", testExportImport},
}

func testCreateEventFor(h *harness) {
	filtered := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"invoice.*"} })
	fifo := h.endpoint("acme", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"x"} })
	off := h.endpoint("acme", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	other := h.endpoint("globex", nil)
	unlisted := h.endpoint("acme", nil) // accepts everything, but is not asked for

	// Only the listed endpoint that exists, is acme's and is enabled gets
	// a delivery, whatever its filter.
	ev := newEvent("acme", "hookrelay.test", t0)
	got, ds, err := h.s.CreateEventFor(h.ctx, ev, []string{filtered.ID, off.ID, other.ID, "ep_missing"})
	if err != nil {
		h.Fatalf("CreateEventFor: %v", err)
	}
	if got.ID != ev.ID || !got.CreatedAt.Equal(t0) || !bytes.Equal(got.Payload, ev.Payload) {
		h.Fatalf("CreateEventFor returned %+v", got)
	}
	if len(ds) != 1 {
		h.Fatalf("CreateEventFor made %d deliveries, want 1", len(ds))
	}
	d := ds[0]
	if d.EndpointID != filtered.ID || d.EventID != ev.ID || d.Tenant != "acme" || d.EventType != "hookrelay.test" ||
		d.Status != store.StatusPending || !d.NextAttemptAt.Equal(t0) || d.FIFO || d.Attempts != 0 {
		h.Fatalf("delivery = %+v", d)
	}
	wantDelivery(h, h.delivery(d.ID), d)
	if read, err := h.s.GetEvent(h.ctx, ev.ID); err != nil || !bytes.Equal(read.Payload, ev.Payload) || read.Type != "hookrelay.test" {
		h.Fatalf("GetEvent = %+v, %v", read, err)
	}
	jobs := h.claim(t0, 10)
	h.wantIDs("claim", jobIDs(jobs), []string{d.ID})
	if jobs[0].Endpoint.ID != filtered.ID {
		h.Fatalf("job endpoint %s", jobs[0].Endpoint.ID)
	}
	h.succeed(t0, jobs...)

	// A FIFO endpoint's targeted deliveries keep its order.
	at := t0.Add(time.Minute)
	_, first, err := h.s.CreateEventFor(h.ctx, newEvent("acme", "hookrelay.test", at), []string{fifo.ID})
	if err != nil || len(first) != 1 || !first[0].FIFO {
		h.Fatalf("CreateEventFor(FIFO) = %+v, %v", first, err)
	}
	_, second, err := h.s.CreateEventFor(h.ctx, newEvent("acme", "hookrelay.test", at), []string{fifo.ID, fifo.ID})
	if err != nil || len(second) != 1 {
		h.Fatalf("CreateEventFor(FIFO, listed twice) = %+v, %v", second, err)
	}
	jobs = h.claim(at, 10)
	h.wantIDs("FIFO head only", jobIDs(jobs), []string{first[0].ID})
	h.succeed(at, jobs...)
	h.wantIDs("FIFO next", h.claimIDs(at, 10), []string{second[0].ID})

	// Nothing qualifies: nothing is written.
	for name, ids := range map[string][]string{
		"disabled":      {off.ID},
		"other tenant":  {other.ID},
		"missing":       {"ep_missing"},
		"an empty list": {},
		"a nil list":    nil,
		"all of them":   {off.ID, other.ID, "ep_missing"},
	} {
		ev := newEvent("acme", "hookrelay.test", t0)
		_, ds, err := h.s.CreateEventFor(h.ctx, ev, ids)
		wantErr(h, "CreateEventFor("+name+")", err, store.ErrNotFound)
		if len(ds) != 0 {
			h.Fatalf("CreateEventFor(%s) made %d deliveries", name, len(ds))
		}
		_, err = h.s.GetEvent(h.ctx, ev.ID)
		wantErr(h, "GetEvent after CreateEventFor("+name+")", err, store.ErrNotFound)
	}

	// A taken id is a conflict; an idempotency key is refused.
	dup := newEvent("acme", "hookrelay.test", t0)
	dup.ID = ev.ID
	_, _, err = h.s.CreateEventFor(h.ctx, dup, []string{filtered.ID})
	wantErr(h, "CreateEventFor with a taken id", err, store.ErrConflict)
	keyed := newEvent("acme", "hookrelay.test", t0)
	keyed.IdempotencyKey = "k"
	if _, _, err := h.s.CreateEventFor(h.ctx, keyed, []string{filtered.ID}); err == nil {
		h.Fatalf("CreateEventFor with an idempotency key succeeded")
	}

	// An empty id and a zero time are filled in, as by CreateEvent.
	bare := &store.Event{Tenant: "acme", Type: "hookrelay.test", Payload: []byte(`{}`)}
	got, ds, err = h.s.CreateEventFor(h.ctx, bare, []string{filtered.ID})
	if err != nil || got.ID == "" || got.CreatedAt.IsZero() || len(ds) != 1 || ds[0].EventID != got.ID {
		h.Fatalf("CreateEventFor(no id, no time) = %+v, %+v, %v", got, ds, err)
	}
	// The unlisted endpoint never got anything.
	if list, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{EndpointID: unlisted.ID}); err != nil || len(list) != 0 {
		h.Fatalf("the unlisted endpoint has %d deliveries, %v", len(list), err)
	}
}

// testFIFORetryWhileHeadInFlight retries and replays an older delivery of a
// FIFO endpoint while its head is in flight: the older one must wait for
// the head's attempt, and then go first.
func testFIFORetryWhileHeadInFlight(h *harness) {
	f := h.endpoint("", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"f"} })
	a := h.event1("", "f", t0)
	b := h.event1("", "f", t0)
	h.fail(t0, h.claim(t0, 10)...) // a
	head := h.claim(t0, 10)
	h.wantIDs("head", jobIDs(head), []string{b.ID})

	at := t0.Add(time.Second)
	if _, err := h.s.RetryDelivery(h.ctx, a.ID, at); err != nil {
		h.Fatalf("RetryDelivery: %v", err)
	}
	h.wantIDs("claim while the head is in flight", h.claimIDs(at, 10), nil)
	h.wantIDs("claim just before the head's lease ends", h.claimIDs(t0.Add(lease-time.Millisecond), 10), nil)
	// The head goes back to waiting for a retry, due at once: the retried
	// older delivery goes first.
	h.complete(result(head[0], store.StatusPending, 503, at, at))
	jobs := h.claim(at, 10)
	h.wantIDs("after the head's attempt", jobIDs(jobs), []string{a.ID})
	h.wantIDs("while the older one is in flight", h.claimIDs(at, 10), nil)
	h.succeed(at, jobs...)
	jobs = h.claim(at, 10)
	h.wantIDs("then the head again", jobIDs(jobs), []string{b.ID})

	// The same with a replay, the head finishing this time.
	at = at.Add(time.Second)
	h.fail(at, jobs...) // b
	c := h.event1("", "f", at)
	head = h.claim(at, 10)
	h.wantIDs("new head", jobIDs(head), []string{c.ID})
	if n, err := h.s.ReplayFailed(h.ctx, f.ID, t0.Add(-time.Hour), at); err != nil || n != 1 {
		h.Fatalf("ReplayFailed = %d, %v; want 1", n, err)
	}
	h.wantIDs("claim while the head is in flight, after a replay", h.claimIDs(at, 10), nil)
	h.succeed(at, head...)
	jobs = h.claim(at, 10)
	h.wantIDs("the replayed delivery", jobIDs(jobs), []string{b.ID})
	h.succeed(at, jobs...)
	h.wantIDs("nothing left", h.claimIDs(at.Add(time.Hour), 10), nil)
	if st, err := h.s.QueueStats(h.ctx, at.Add(time.Hour)); err != nil || st.Pending != 0 {
		h.Fatalf("QueueStats = %+v, %v", st, err)
	}
}

func testEndpointHealth(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	idle := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"b"} })
	far := t0.Add(24 * time.Hour)
	h.event1("", "b", far) // idle's, never attempted

	// One delivery at a time, each attempted at its own second.
	attempt := func(status store.DeliveryStatus, code int, sec int, next time.Time) *store.Delivery {
		h.Helper()
		d := h.event1("", "a", t0)
		jobs := h.claim(t0.Add(time.Duration(sec)*time.Second), 10)
		h.wantIDs("claim", jobIDs(jobs), []string{d.ID})
		h.complete(result(jobs[0], status, code, t0.Add(time.Duration(sec)*time.Second), next))
		return d
	}
	d1 := attempt(store.StatusSucceeded, 200, 1, time.Time{})
	attempt(store.StatusFailed, 500, 2, time.Time{})
	d3 := attempt(store.StatusPending, 503, 3, far)
	attempt(store.StatusSucceeded, 204, 4, time.Time{})
	h.event1("", "a", far.Add(time.Hour)) // pending, never attempted: not counted

	health := func(last int, ids ...string) map[string]store.EndpointHealth {
		h.Helper()
		m, err := h.s.EndpointHealth(h.ctx, ids, last)
		if err != nil {
			h.Fatalf("EndpointHealth: %v", err)
		}
		if len(m) != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
			h.Fatalf("EndpointHealth returned %d entries for %v", len(m), ids)
		}
		return m
	}
	check := func(what string, got store.EndpointHealth, recent, ok, failed, status int, msg string, at time.Time) {
		h.Helper()
		if got.Recent != recent || got.Succeeded != ok || got.Failed != failed || got.LastStatus != status ||
			got.LastError != msg || got.LastAttemptAt == nil || !got.LastAttemptAt.Equal(at) {
			h.Fatalf("%s: health = %+v (last attempt %s), want recent %d, succeeded %d, failed %d, last %d %q at %v",
				what, got, fmtTimePtr(got.LastAttemptAt), recent, ok, failed, status, msg, at)
		}
	}
	m := health(0, e.ID, idle.ID, "ep_missing", e.ID)
	check("window of 20", m[e.ID], 4, 2, 1, 204, "", t0.Add(4*time.Second))
	if m[idle.ID] != (store.EndpointHealth{}) || m["ep_missing"] != (store.EndpointHealth{}) {
		h.Fatalf("health of an endpoint without attempts = %+v, %+v", m[idle.ID], m["ep_missing"])
	}
	check("window of 2", health(2, e.ID)[e.ID], 2, 1, 0, 204, "", t0.Add(4*time.Second))

	// d1 is retried and fails without a response: its new attempt is the
	// latest, and it counts once, as failed.
	at := t0.Add(5 * time.Second)
	if _, err := h.s.RetryDelivery(h.ctx, d1.ID, at); err != nil {
		h.Fatalf("RetryDelivery: %v", err)
	}
	jobs := h.claim(at, 10)
	h.wantIDs("retried", jobIDs(jobs), []string{d1.ID})
	h.complete(result(jobs[0], store.StatusFailed, 0, at, time.Time{}))
	check("after a retry", health(20, e.ID)[e.ID], 4, 1, 2, 0, "dial tcp: connection refused", at)
	check("window of 2 after a retry", health(2, e.ID)[e.ID], 2, 1, 1, 0, "dial tcp: connection refused", at)
	// d3 is attempted again, and still counts once.
	at = t0.Add(6 * time.Second)
	if _, err := h.s.RetryDelivery(h.ctx, d3.ID, at); err != nil {
		h.Fatalf("RetryDelivery: %v", err)
	}
	jobs = h.claim(at, 10)
	h.wantIDs("retried", jobIDs(jobs), []string{d3.ID})
	h.complete(result(jobs[0], store.StatusSucceeded, 200, at, time.Time{}))
	check("after a second attempt", health(20, e.ID)[e.ID], 4, 2, 2, 200, "", at)

	// Many endpoints at once.
	var ids []string
	for range 150 {
		ids = append(ids, store.NewID("ep"))
	}
	ids = append(ids, e.ID)
	check("among many", health(20, ids...)[e.ID], 4, 2, 2, 200, "", at)
	if m, err := h.s.EndpointHealth(h.ctx, nil, 20); err != nil || len(m) != 0 {
		h.Fatalf("EndpointHealth(none) = %v, %v", m, err)
	}
}

func testDeliveryHistogram(h *harness) {
	a := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"b"} })
	gone := h.endpoint("acme", func(e *store.Endpoint) { e.EventTypes = []string{"d"} })
	h.endpoint("globex", nil)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

	h.event1("acme", "a", sec(-1)) // before the range
	pendingA := h.event1("acme", "a", sec(10))
	okB := h.event1("acme", "b", sec(20))
	h.event1("acme", "d", sec(30)) // canceled below: not counted
	failedA := h.event1("acme", "a", sec(70))
	h.event1("globex", "c", sec(130))
	h.event1("acme", "a", sec(180)) // at the end of the range: outside
	for _, j := range h.claim(sec(200), 100) {
		switch j.Delivery.ID {
		case okB.ID:
			h.succeed(sec(200), j)
		case failedA.ID:
			h.fail(sec(200), j)
		}
	}
	if err := h.s.DeleteEndpoint(h.ctx, gone.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}

	histogram := func(f store.DeliveryFilter, bucket time.Duration) []store.HistogramBucket {
		h.Helper()
		got, err := h.s.DeliveryHistogram(h.ctx, f, bucket)
		if err != nil {
			h.Fatalf("DeliveryHistogram(%+v, %v): %v", f, bucket, err)
		}
		return got
	}
	want := func(what string, got []store.HistogramBucket, counts ...[3]int) {
		h.Helper()
		if len(got) != len(counts) {
			h.Fatalf("%s: %d buckets, want %d: %+v", what, len(got), len(counts), got)
		}
		for i, c := range counts {
			b := got[i]
			if !b.Start.Equal(t0.Add(time.Duration(i)*time.Minute)) || b.Succeeded != c[0] || b.Failed != c[1] || b.Pending != c[2] {
				h.Fatalf("%s: bucket %d = %+v, want start %v and %v", what, i, b, t0.Add(time.Duration(i)*time.Minute), c)
			}
		}
	}
	acme := "acme"
	f := store.DeliveryFilter{Since: t0, Until: sec(180)}
	want("all", histogram(f, time.Minute), [3]int{1, 0, 1}, [3]int{0, 1, 0}, [3]int{0, 0, 1})
	f.Tenant = &acme
	want("acme", histogram(f, time.Minute), [3]int{1, 0, 1}, [3]int{0, 1, 0}, [3]int{})
	f.EndpointID = a.ID
	want("endpoint a", histogram(f, time.Minute), [3]int{0, 0, 1}, [3]int{0, 1, 0}, [3]int{})
	f.EndpointID, f.EventType = "", "b"
	want("type b", histogram(f, time.Minute), [3]int{1, 0, 0}, [3]int{}, [3]int{})
	f.EventType, f.Status = "", store.StatusFailed
	want("failed", histogram(f, time.Minute), [3]int{}, [3]int{0, 1, 0}, [3]int{})
	f.Status, f.Tenant = "", nil
	// The range is cut at Until even in the middle of a bucket, and the
	// page is ignored.
	f.Until, f.Page = sec(135), store.Page{Limit: 1, Cursor: "dlv_0"}
	want("partial last bucket", histogram(f, time.Minute), [3]int{1, 0, 1}, [3]int{0, 1, 0}, [3]int{0, 0, 1})
	f.Until = sec(125)
	want("cut before the last", histogram(f, time.Minute), [3]int{1, 0, 1}, [3]int{0, 1, 0}, [3]int{})
	if got := histogram(store.DeliveryFilter{Since: t0, Until: t0}, time.Minute); len(got) != 0 {
		h.Fatalf("empty range: %+v", got)
	}
	got := histogram(store.DeliveryFilter{Since: t0, Until: sec(20)}, time.Second)
	if len(got) != 20 || got[10].Pending != 1 || !got[10].Start.Equal(sec(10)) {
		h.Fatalf("per second: %+v", got)
	}
	_ = pendingA

	for name, tc := range map[string]struct {
		f      store.DeliveryFilter
		bucket time.Duration
	}{
		"no since":         {store.DeliveryFilter{Until: sec(60)}, time.Minute},
		"no until":         {store.DeliveryFilter{Since: t0}, time.Minute},
		"zero bucket":      {store.DeliveryFilter{Since: t0, Until: sec(60)}, 0},
		"sub-ms bucket":    {store.DeliveryFilter{Since: t0, Until: sec(60)}, time.Microsecond},
		"too many buckets": {store.DeliveryFilter{Since: t0, Until: t0.Add(time.Hour)}, time.Millisecond},
	} {
		if _, err := h.s.DeliveryHistogram(h.ctx, tc.f, tc.bucket); err == nil {
			h.Errorf("DeliveryHistogram(%s) succeeded", name)
		}
	}
}

func testPrune(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	c := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"c"} })
	wall := now()
	old := wall.Add(-48 * time.Hour)
	create := func(typ, key string, at time.Time) (*store.Event, []*store.Delivery) {
		h.Helper()
		ev := newEvent("", typ, at)
		ev.IdempotencyKey = key
		got, ds, err := h.s.CreateEvent(h.ctx, ev, time.Time{})
		if err != nil {
			h.Fatalf("CreateEvent: %v", err)
		}
		return got, ds
	}
	claim1 := func(d *store.Delivery, at time.Time) *store.Job {
		h.Helper()
		for _, j := range h.claim(at, 100) {
			if j.Delivery.ID == d.ID {
				return j
			}
		}
		h.Fatalf("delivery %s not claimed", d.ID)
		return nil
	}

	// History: completed before the cut, with attempts older than it.
	var gone, goneEvents []string
	for range 3 {
		ev, ds := create("a", "", old)
		h.succeed(old, claim1(ds[0], old))
		gone, goneEvents = append(gone, ds[0].ID), append(goneEvents, ev.ID)
	}
	ev, ds := create("a", "k1", old)
	h.fail(old, claim1(ds[0], old))
	gone, goneEvents = append(gone, ds[0].ID), append(goneEvents, ev.ID)
	ev, ds = create("c", "", old)
	if err := h.s.DeleteEndpoint(h.ctx, c.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	gone, goneEvents = append(gone, ds[0].ID), append(goneEvents, ev.ID)
	ev, _ = create("nobody", "k2", old) // no delivery at all
	goneEvents = append(goneEvents, ev.ID)
	// Pending: kept with their events, but their old attempts go.
	retrying, ds := create("a", "", old)
	h.complete(result(claim1(ds[0], old), store.StatusPending, 503, old, wall.Add(time.Hour)))
	retryingD := ds[0]

	time.Sleep(5 * time.Millisecond)
	before := time.Now()
	time.Sleep(5 * time.Millisecond)

	// Newer than the cut.
	recent, ds := create("a", "k3", before.Add(time.Hour))
	recentD := ds[0]
	h.succeed(before.Add(time.Hour), claim1(recentD, before.Add(time.Hour)))
	recentNone, _ := create("nobody", "", before.Add(time.Hour))
	untouched, ds := create("a", "", old) // pending, never attempted
	untouchedD := ds[0]

	res, err := h.s.Prune(h.ctx, store.PruneParams{Before: before, Batch: 2})
	if err != nil {
		h.Fatalf("Prune: %v", err)
	}
	if want := (store.PruneResult{Attempts: 5, Deliveries: 5, IdempotencyKeys: 2, Events: 6}); res != want {
		h.Fatalf("Prune = %+v, want %+v", res, want)
	}
	for _, id := range gone {
		_, err := h.s.GetDelivery(h.ctx, id)
		wantErr(h, "GetDelivery(pruned)", err, store.ErrNotFound)
		if atts, err := h.s.ListAttempts(h.ctx, id); err != nil || len(atts) != 0 {
			h.Fatalf("ListAttempts(pruned) = %d, %v", len(atts), err)
		}
	}
	for _, id := range goneEvents {
		_, err := h.s.GetEvent(h.ctx, id)
		wantErr(h, "GetEvent(pruned)", err, store.ErrNotFound)
	}
	for _, id := range []string{retrying.ID, untouched.ID, recent.ID, recentNone.ID} {
		if _, err := h.s.GetEvent(h.ctx, id); err != nil {
			h.Fatalf("GetEvent(kept %s): %v", id, err)
		}
	}
	if d := h.wantStatus(retryingD.ID, store.StatusPending); d.Attempts != 1 {
		h.Fatalf("retrying delivery after Prune: %+v", d)
	}
	if atts, err := h.s.ListAttempts(h.ctx, retryingD.ID); err != nil || len(atts) != 0 {
		h.Fatalf("the pending delivery's old attempt: %d, %v; want pruned", len(atts), err)
	}
	h.wantStatus(untouchedD.ID, store.StatusPending)
	h.wantStatus(recentD.ID, store.StatusSucceeded)
	if atts, err := h.s.ListAttempts(h.ctx, recentD.ID); err != nil || len(atts) != 1 {
		h.Fatalf("recent attempts: %d, %v", len(atts), err)
	}
	// The pruned keys are free again; the recent one is not.
	if _, _, err := h.s.CreateEvent(h.ctx, &store.Event{Tenant: "", Type: "nobody", Payload: []byte(`{}`), IdempotencyKey: "k1", CreatedAt: before.Add(time.Hour)}, time.Time{}); err != nil {
		h.Fatalf("reusing a pruned idempotency key: %v", err)
	}
	_, _, err = h.s.CreateEvent(h.ctx, &store.Event{Tenant: "", Type: "nobody", Payload: []byte(`{}`), IdempotencyKey: "k3", CreatedAt: wall}, time.Time{})
	wantErr(h, "reusing a recent idempotency key", err, store.ErrConflict)
	// The queue still works: the untouched delivery is claimed.
	h.wantIDs("claim after Prune", h.claimIDs(wall, 10), []string{untouchedD.ID})

	if res, err := h.s.Prune(h.ctx, store.PruneParams{Before: before}); err != nil || res != (store.PruneResult{}) {
		h.Fatalf("second Prune = %+v, %v; want nothing", res, err)
	}
	_ = e
}

func testExportImport(h *harness) {
	// A store with a bit of everything.
	k1, _ := newAPIKey("ci")
	k2, _ := newAPIKey("old")
	k2.LastUsedAt = new(now())
	k2.Tenant, k2.Scopes = new("acme"), []string{"deliveries:read", "endpoints:read"}
	for _, k := range []*store.APIKey{k1, k2} {
		if err := h.s.CreateAPIKey(h.ctx, k); err != nil {
			h.Fatalf("CreateAPIKey: %v", err)
		}
	}
	if err := h.s.RevokeAPIKey(h.ctx, k2.ID, now()); err != nil {
		h.Fatalf("RevokeAPIKey: %v", err)
	}
	plain := h.endpoint("", nil)
	fifo := h.endpoint("acme", func(e *store.Endpoint) {
		e.Scheme, e.CustomScheme = "custom", []byte(`{"header":"X-Sig","algorithm":"hmac-sha256"}`)
		e.FIFO, e.RateLimit, e.Description, e.TraceContext = true, 2.5, "FIFO, custom", true
		e.EventTypes = []string{"invoice.*", "order.paid"}
		expires := t0.Add(time.Hour)
		e.Secrets = append(e.Secrets, store.Secret{Value: "whsec_old", CreatedAt: now().Add(-time.Hour), ExpiresAt: &expires})
		setSettings(e)
	})
	off := h.endpoint("acme", func(e *store.Endpoint) {
		e.EventTypes = []string{"x"}
		e.Filter = []byte(`{"type": {"$in": ["x"]}}`)
	})
	// A source with every field set, secrets sealed as endpoints' are.
	src := h.source("partner", func(s *store.Source) {
		s.Scheme, s.CustomScheme = "custom", []byte(`{"header":"X-Partner-Sig","algorithm":"hmac-sha256"}`)
		s.Secrets = append(s.Secrets, store.Secret{Value: "older-secret", CreatedAt: now().Add(-time.Hour)})
		s.Tolerance, s.SlackChallenge = 3*time.Minute, true
		s.ZoomSecret = store.Secret{Value: "zoom-token", CreatedAt: now()}
	})
	for i, v := 0, reflect.ValueOf(src).Elem(); i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			h.Fatalf("the export test sets no store.Source.%s: set it, and carry it in Export and Import", v.Type().Field(i).Name)
		}
	}
	// Event types: one with every field set, byte-exact JSON, one bare.
	catalogType := newEventType("invoice.paid")
	catalogType.Deprecated, catalogType.Enforce = true, true
	for i, v := 0, reflect.ValueOf(catalogType).Elem(); i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			h.Fatalf("the export test sets no store.EventType.%s: set it, and carry it in Export and Import", v.Type().Field(i).Name)
		}
	}
	bareType := &store.EventType{Name: "ping", CreatedAt: now(), UpdatedAt: now()}
	for _, t := range []*store.EventType{catalogType, bareType} {
		if err := h.s.CreateEventType(h.ctx, t); err != nil {
			h.Fatalf("CreateEventType: %v", err)
		}
	}
	ev := &store.Event{
		ID: store.NewID("evt"), Tenant: "acme", Type: "invoice.paid", Payload: []byte(oddPayload),
		IdempotencyKey: "key-1", CreatedAt: t0, ContentType: "application/vnd.test+json",
		Headers:     map[string]string{"X-Origin": "test", "X-Trace": "abc"},
		TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	// Every field of Event is set, so that a field Export and Import
	// forget to carry fails the comparison below; ErasedAt, which goes
	// without Payload and Headers, on the erased event further down.
	for i, v := 0, reflect.ValueOf(ev).Elem(); i < v.NumField(); i++ {
		if v.Field(i).IsZero() && v.Type().Field(i).Name != "ErasedAt" {
			h.Fatalf("the export test sets no store.Event.%s: set it, and carry it in Export and Import", v.Type().Field(i).Name)
		}
	}
	if _, _, err := h.s.CreateEvent(h.ctx, ev, time.Time{}); err != nil {
		h.Fatalf("CreateEvent: %v", err)
	}
	h.event1("acme", "invoice.paid", t0) // held behind the first on the FIFO endpoint
	h.event1("acme", "x", t0)            // held once its endpoint is disabled
	off.Disabled, off.DisabledReason = true, "manual"
	h.update(off)
	for range 3 {
		h.event1("", "any", t0)
	}
	var inFlight *store.Job // the FIFO endpoint's head
	plainJobs := 0
	for _, j := range h.claim(t0, 10) {
		if j.Endpoint.ID == fifo.ID {
			inFlight = j
			continue
		}
		switch plainJobs++; plainJobs {
		case 1:
			h.succeed(t0, j)
		case 2:
			r := result(j, store.StatusFailed, 0, t0, time.Time{}) // no response body
			h.complete(r)
		default:
			r := result(j, store.StatusPending, 500, t0, t0.Add(time.Hour))
			r.Attempt.ResponseBody = []byte{}
			h.complete(r)
		}
	}
	if inFlight == nil || plainJobs != 3 {
		h.Fatalf("claimed the FIFO head %v and %d others, want 3", inFlight != nil, plainJobs)
	}
	for _, tenant := range []*string{nil, new("acme")} {
		if err := h.s.AddAudit(h.ctx, &store.AuditEntry{ID: store.NewID("aud"), At: t0, ActorKind: "key", ActorID: k1.ID,
			Tenant: tenant, Action: "endpoint.update", Target: plain.ID, RemoteAddr: "192.0.2.7", Detail: "d"}); err != nil {
			h.Fatalf("AddAudit: %v", err)
		}
	}
	gone := h.endpoint("gone", nil)
	h.event1("gone", "any", t0)
	if err := h.s.DeleteEndpoint(h.ctx, gone.ID); err != nil { // a canceled delivery
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	erased, _ := h.event("erased", "any", t0) // an erased event: erased_at moves with it
	if _, err := h.s.EraseEvent(h.ctx, erased.ID, t0.Add(time.Minute)); err != nil {
		h.Fatalf("EraseEvent: %v", err)
	}

	export := func(s store.Store) []store.Record {
		h.Helper()
		var out []store.Record
		if err := s.Export(h.ctx, func(r store.Record) error {
			out = append(out, r)
			return nil
		}); err != nil {
			h.Fatalf("Export: %v", err)
		}
		return out
	}
	recs := export(h.s)
	counts := map[string]int{}
	for i, r := range recs {
		counts[r.Kind]++
		if i > 0 && slices.Index(store.RecordKinds, r.Kind) < slices.Index(store.RecordKinds, recs[i-1].Kind) {
			h.Fatalf("record %d is a %s after a %s", i, r.Kind, recs[i-1].Kind)
		}
	}
	wantCounts := map[string]int{store.KindAPIKey: 2, store.KindEndpoint: 3, store.KindSource: 1, store.KindEventType: 2, store.KindEvent: 8,
		store.KindIdempotencyKey: 1, store.KindDelivery: 7, store.KindAttempt: 3, store.KindAudit: 2}
	for kind, n := range wantCounts {
		if counts[kind] != n {
			h.Fatalf("exported %d %s records, want %d (%v)", counts[kind], kind, n, counts)
		}
	}

	// Imported into an empty store, then exported again: the same records.
	fresh := h.open(h.T)
	if err := fresh.Import(h.ctx, records(recs)); err != nil {
		h.Fatalf("Import: %v", err)
	}
	again := export(fresh)
	if len(again) != len(recs) {
		h.Fatalf("re-exported %d records, want %d", len(again), len(recs))
	}
	for i := range recs {
		if recs[i].Kind != again[i].Kind || !bytes.Equal(recs[i].Data, again[i].Data) {
			h.Fatalf("record %d changed:\n got %s %s\nwant %s %s", i, again[i].Kind, again[i].Data, recs[i].Kind, recs[i].Data)
		}
	}

	// And it works as the original did.
	if ev, err := fresh.GetEvent(h.ctx, erased.ID); err != nil || ev.ErasedAt == nil || !ev.ErasedAt.Equal(t0.Add(time.Minute)) || len(ev.Payload) != 0 {
		h.Fatalf("imported erased event = %+v, %v", ev, err)
	}
	for _, e := range []*store.Endpoint{plain, fifo, off} {
		got, err := fresh.GetEndpoint(h.ctx, e.ID)
		if err != nil {
			h.Fatalf("GetEndpoint(%s) after import: %v", e.ID, err)
		}
		want := *e
		want.UpdatedAt = got.UpdatedAt
		want.FailingSince = got.FailingSince
		wantEndpoint(h, got, &want)
	}
	gotSrc, err := fresh.SourceByName(h.ctx, src.Name)
	if err != nil {
		h.Fatalf("SourceByName(%s) after import: %v", src.Name, err)
	}
	wantSource(h, "source after import", gotSrc, src)
	for _, t := range []*store.EventType{catalogType, bareType} {
		if got, err := fresh.GetEventType(h.ctx, t.Name); err != nil || !reflect.DeepEqual(got, t) {
			h.Fatalf("GetEventType(%s) after import = %+v, %v\nwant %+v", t.Name, got, err, t)
		}
	}
	if got, err := fresh.GetEvent(h.ctx, ev.ID); err != nil || !reflect.DeepEqual(*got, *ev) {
		h.Fatalf("GetEvent after import = %+v, %v\nwant %+v", got, err, ev)
	}
	_, _, err = fresh.CreateEvent(h.ctx, &store.Event{Tenant: "acme", Type: "x", Payload: []byte(`{}`), IdempotencyKey: "key-1"}, time.Time{})
	wantErr(h, "CreateEvent with an imported idempotency key", err, store.ErrConflict)
	h2 := &harness{T: h.T, s: fresh, ctx: h.ctx, open: h.open}
	h2.wantIDs("claim while the FIFO head is in flight", h2.claimIDs(t0, 10), nil)
	if lost := h2.complete(result(inFlight, store.StatusSucceeded, 200, t0, time.Time{})); len(lost) != 0 {
		h.Fatalf("completing the imported claim: lost %v", lost)
	}
	next := h2.claim(t0, 10)
	if len(next) != 1 || next[0].Endpoint.ID != fifo.ID || len(next[0].Endpoint.Secrets) != 2 {
		h.Fatalf("after the imported head: %d jobs", len(next))
	}
	// New deliveries come after the imported ones.
	_, ds := h2.event("", "any", t0)
	for _, r := range recs {
		var d store.DeliveryRecord
		if r.Kind == store.KindDelivery && (json.Unmarshal(r.Data, &d) != nil || d.ID >= ds[0].ID) {
			h.Fatalf("new delivery %s does not come after imported %s", ds[0].ID, d.ID)
		}
	}

	if k, err := fresh.GetAPIKey(h.ctx, k2.ID); err != nil || k.Tenant == nil || *k.Tenant != "acme" || len(k.Scopes) != 2 {
		h.Fatalf("GetAPIKey after import = %+v, %v", k, err)
	}
	if es, _, err := fresh.ListAudit(h.ctx, store.AuditFilter{Tenant: new("acme")}); err != nil || len(es) != 1 || es[0].RemoteAddr != "192.0.2.7" {
		h.Fatalf("ListAudit after import = %v, %v", es, err)
	}

	// Into a store that is not empty: a conflict, nothing written.
	err = fresh.Import(h.ctx, records(recs[:1]))
	wantErr(h, "Import into a store that is not empty", err, store.ErrConflict)
	other := h.open(h.T)
	if err := other.CreateAPIKey(h.ctx, k1); err != nil {
		h.Fatalf("CreateAPIKey: %v", err)
	}
	err = other.Import(h.ctx, records(recs[1:2]))
	wantErr(h, "Import into a store with a key", err, store.ErrConflict)
	if got := export(other); len(got) != 1 {
		h.Fatalf("a refused Import wrote: %d records", len(got))
	}

	// Bad streams stop the import with an error.
	errStream := errors.New("stream broke")
	for name, seq := range map[string]iter.Seq2[store.Record, error]{
		"out of order": records([]store.Record{recs[len(recs)-1], recs[0]}),
		"unknown kind": records([]store.Record{{Kind: "table", Data: json.RawMessage(`{}`)}}),
		"bad data":     records([]store.Record{{Kind: store.KindAPIKey, Data: json.RawMessage(`[1]`)}}),
		"stream error": func(yield func(store.Record, error) bool) { yield(store.Record{}, errStream) },
	} {
		if err := h.open(h.T).Import(h.ctx, seq); err == nil {
			h.Errorf("Import(%s) succeeded", name)
		} else if name == "stream error" && !errors.Is(err, errStream) {
			h.Errorf("Import(%s) = %v, want the stream's error", name, err)
		}
	}
	// An empty stream into an empty store is fine.
	if err := h.open(h.T).Import(h.ctx, records([]store.Record(nil))); err != nil {
		h.Errorf("Import(nothing): %v", err)
	}

	// Export stops at fn's error.
	stop := errors.New("stop")
	n := 0
	err = h.s.Export(h.ctx, func(store.Record) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 3 {
		h.Fatalf("Export with fn failing at the 3rd record = %v after %d", err, n)
	}
}

// records yields rs, for Import.
func records(rs []store.Record) iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}
