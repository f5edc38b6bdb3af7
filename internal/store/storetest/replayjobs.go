package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// replayJobTests are the tests of store.ReplayFailer and store.ReplayJobs;
// Run runs them with the others.
var replayJobTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"ReplayFailedFilters", testReplayFailedFilters},
	{"ReplayJobLifecycle", testReplayJobLifecycle},
	{"ReplayJobCancel", testReplayJobCancel},
	{"ReplayJobAllEndpoints", testReplayJobAllEndpoints},
}

// failAll claims every delivery due at at and fails it.
func (h *harness) failAll(at time.Time) {
	h.Helper()
	for _, j := range h.claim(at, 1000) {
		h.fail(at, j)
	}
}

// testReplayFailedFilters: until is excluded, event type patterns and
// statuses narrow what ReplayFailedBatch makes pending, batch by batch.
func testReplayFailedFilters(h *harness) {
	e := h.endpoint("", nil)
	other := h.endpoint("x", nil)
	before := h.event1("", "invoice.paid", t0.Add(-time.Minute))
	paid := h.event1("", "invoice.paid", t0)
	user := h.event1("", "user.created", t0.Add(time.Second))
	sent := h.event1("", "invoice.sent", t0.Add(2*time.Second))
	atUntil := h.event1("", "invoice.paid", t0.Add(3*time.Second))
	okd := h.event1("", "invoice.paid", t0.Add(time.Second))
	oth := h.event1("x", "invoice.paid", t0.Add(time.Second))
	at := t0.Add(time.Minute)
	for _, j := range h.claim(at, 100) {
		if j.Delivery.ID == okd.ID {
			h.succeed(at, j)
		} else {
			h.fail(at, j)
		}
	}
	replayAt := t0.Add(time.Hour)
	p := store.ReplayFailedParams{EndpointID: e.ID, Since: t0, Until: t0.Add(3 * time.Second),
		EventTypes: []string{"invoice.*"}, Now: replayAt, Batch: 1}
	// Canceled alone: none of these failed ones.
	pc := p
	pc.Statuses, pc.Batch = []store.DeliveryStatus{store.StatusCanceled}, 0
	if res, err := h.s.ReplayFailedBatch(h.ctx, pc); err != nil || res.Queued != 0 || res.Scanned != 3 || res.Next != "" {
		h.Fatalf("ReplayFailedBatch(canceled) = %+v, %v; want 3 scanned, none queued", res, err)
	}
	scanned, queued, batches := 0, 0, 0
	for {
		res, err := h.s.ReplayFailedBatch(h.ctx, p)
		if err != nil {
			h.Fatalf("ReplayFailedBatch: %v", err)
		}
		if res.Scanned > 1 {
			h.Fatalf("batch of 1 scanned %d", res.Scanned)
		}
		batches++
		scanned += res.Scanned
		queued += res.Queued
		if res.Next == "" {
			break
		}
		p.After = res.Next
	}
	// paid, user, sent are the failed ones in [t0, t0+3s); the batches
	// are 1, 1, 1 and an empty last one.
	if scanned != 3 || queued != 2 || batches != 4 {
		h.Fatalf("replayed in %d batches: scanned %d, queued %d; want 4 batches, 3 scanned, 2 queued", batches, scanned, queued)
	}
	for _, id := range []string{paid.ID, sent.ID} {
		if d := h.wantStatus(id, store.StatusPending); !d.NextAttemptAt.Equal(replayAt) || d.CompletedAt != nil {
			h.Fatalf("replayed delivery = %+v", d)
		}
	}
	h.wantStatus(before.ID, store.StatusFailed)
	h.wantStatus(user.ID, store.StatusFailed)
	h.wantStatus(atUntil.ID, store.StatusFailed)
	h.wantStatus(okd.ID, store.StatusSucceeded)
	h.wantStatus(oth.ID, store.StatusFailed)
	h.wantIDs("claim replayed", h.claimIDs(replayAt, 10), sorted(paid.ID, sent.ID))
	if _, err := h.s.ReplayFailedBatch(h.ctx, store.ReplayFailedParams{EndpointID: "ep_missing", Since: t0, Now: replayAt}); !isNotFound(err) {
		h.Fatalf("ReplayFailedBatch(missing endpoint) = %v, want ErrNotFound", err)
	}
	if _, err := h.s.ReplayFailedBatch(h.ctx, store.ReplayFailedParams{EndpointID: e.ID, Since: t0, Now: replayAt,
		Statuses: []store.DeliveryStatus{store.StatusSucceeded}}); err == nil {
		h.Fatalf("ReplayFailedBatch(status succeeded) succeeded")
	}
	_ = other
}

func (h *harness) createJob(j *store.ReplayJob) *store.ReplayJob {
	h.Helper()
	if j.ID == "" {
		j.ID = store.NewID("rpl")
	}
	if j.CreatedAt.IsZero() {
		j.CreatedAt = t0.Add(time.Hour)
	}
	if err := h.s.CreateReplayJob(h.ctx, j); err != nil {
		h.Fatalf("CreateReplayJob: %v", err)
	}
	return j
}

// testReplayJobLifecycle: a job is claimed by one node at a time, each
// batch saves its cursor and counts with what it queued, the rate cap
// paces NotBefore, and a node that takes over after the lease ran out
// continues from the cursor without queueing anything twice.
func testReplayJobLifecycle(h *harness) {
	e := h.endpoint("t", nil)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.event1("t", "invoice.paid", t0.Add(time.Duration(i)*time.Second)).ID)
	}
	h.failAll(t0.Add(time.Minute))
	created := t0.Add(time.Hour)
	j := h.createJob(&store.ReplayJob{Tenant: new("t"), EndpointID: e.ID, Kind: store.ReplayFailedKind, Since: t0, Rate: 2, CreatedAt: created})
	got, err := h.s.GetReplayJob(h.ctx, j.ID)
	if err != nil || got.State != store.ReplayQueued || got.StartedAt != nil || got.Rate != 2 || got.Tenant == nil || *got.Tenant != "t" ||
		got.EndpointID != e.ID || !got.Since.Equal(t0) || !got.Until.IsZero() || !got.CreatedAt.Equal(created) {
		h.Fatalf("GetReplayJob = %+v, %v", got, err)
	}
	if at, ok, err := h.s.NextReplayJobAt(h.ctx); err != nil || !ok || !at.Equal(created) {
		h.Fatalf("NextReplayJobAt = %v, %v, %v; want %v", at, ok, err, created)
	}
	now := created
	c, err := h.s.ClaimReplayJob(h.ctx, "n1", now, now.Add(lease))
	if err != nil || c.ID != j.ID || c.State != store.ReplayRunning || c.StartedAt == nil || !c.StartedAt.Equal(now) {
		h.Fatalf("ClaimReplayJob = %+v, %v", c, err)
	}
	if _, err := h.s.ClaimReplayJob(h.ctx, "n2", now, now.Add(lease)); !isNotFound(err) {
		h.Fatalf("ClaimReplayJob by a second node while leased = %v, want ErrNotFound", err)
	}
	if _, err := h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n2", Now: now, LeaseUntil: now.Add(lease)}); !errors.Is(err, store.ErrLeaseLost) {
		h.Fatalf("RunReplayBatch by a node without the lease = %v, want ErrLeaseLost", err)
	}
	// Rate 2: batches of 2, the next one half a second per delivery later.
	r, err := h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(lease)})
	if err != nil || r.Scanned != 2 || r.Queued != 2 || r.Cursor == "" || r.State != store.ReplayRunning || !r.NotBefore.Equal(now.Add(time.Second)) {
		h.Fatalf("first batch = %+v, %v; want 2 scanned and queued, not before %v", r, err, now.Add(time.Second))
	}
	h.wantStatus(ids[0], store.StatusPending)
	h.wantStatus(ids[1], store.StatusPending)
	h.wantStatus(ids[2], store.StatusFailed)
	if got, _ := h.s.GetReplayJob(h.ctx, j.ID); got.Cursor != r.Cursor || got.Queued != 2 || got.Scanned != 2 {
		h.Fatalf("stored job after a batch = %+v", got)
	}
	// The replayed ones fail again: the job, past them, leaves them.
	h.failAll(now)
	if _, err := h.s.ClaimReplayJob(h.ctx, "n1", now.Add(500*time.Millisecond), now.Add(lease)); !isNotFound(err) {
		h.Fatalf("ClaimReplayJob before NotBefore = %v, want ErrNotFound", err)
	}
	// n1 dies; n2 takes the job once the lease is over, at the cursor.
	now = now.Add(lease)
	c, err = h.s.ClaimReplayJob(h.ctx, "n2", now, now.Add(lease))
	if err != nil || c.ID != j.ID || c.Cursor != r.Cursor || !c.StartedAt.Equal(created) {
		h.Fatalf("ClaimReplayJob after the lease = %+v, %v", c, err)
	}
	if _, err := h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(lease)}); !errors.Is(err, store.ErrLeaseLost) {
		h.Fatalf("RunReplayBatch by the node that lost the lease = %v, want ErrLeaseLost", err)
	}
	for range 10 {
		r, err = h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n2", Now: now, LeaseUntil: now.Add(lease)})
		if err != nil {
			h.Fatalf("RunReplayBatch: %v", err)
		}
		if r.State.Done() {
			break
		}
	}
	if r.State != store.ReplaySucceeded || r.Scanned != 5 || r.Queued != 5 || r.FinishedAt == nil || !r.FinishedAt.Equal(now) {
		h.Fatalf("finished job = %+v; want succeeded with 5 scanned and queued", r)
	}
	h.wantStatus(ids[0], store.StatusFailed) // replayed once, failed again, not replayed twice
	h.wantStatus(ids[1], store.StatusFailed)
	for _, id := range ids[2:] {
		h.wantStatus(id, store.StatusPending)
	}
	if _, ok, err := h.s.NextReplayJobAt(h.ctx); err != nil || ok {
		h.Fatalf("NextReplayJobAt with every job done = %v, %v", ok, err)
	}
	if _, err := h.s.ClaimReplayJob(h.ctx, "n2", now.Add(time.Hour), now.Add(2*time.Hour)); !isNotFound(err) {
		h.Fatalf("ClaimReplayJob of a finished job = %v, want ErrNotFound", err)
	}
	if j, err := h.s.CancelReplayJob(h.ctx, j.ID, now); !isConflict(err) || j == nil || j.State != store.ReplaySucceeded {
		h.Fatalf("CancelReplayJob of a finished job = %+v, %v; want ErrConflict", j, err)
	}
	if _, err := h.s.GetReplayJob(h.ctx, "rpl_missing"); !isNotFound(err) {
		h.Fatalf("GetReplayJob(missing) = %v", err)
	}
}

// testReplayJobCancel: a canceled job runs no more batch; listing is by
// tenant, newest first.
func testReplayJobCancel(h *harness) {
	e := h.endpoint("t", nil)
	h.event1("t", "a", t0)
	h.failAll(t0.Add(time.Minute))
	j := h.createJob(&store.ReplayJob{Tenant: new("t"), EndpointID: e.ID, Kind: store.ReplayFailedKind, Since: t0})
	now := j.CreatedAt
	if _, err := h.s.ClaimReplayJob(h.ctx, "n1", now, now.Add(lease)); err != nil {
		h.Fatalf("ClaimReplayJob: %v", err)
	}
	c, err := h.s.CancelReplayJob(h.ctx, j.ID, now)
	if err != nil || c.State != store.ReplayCanceled || c.FinishedAt == nil {
		h.Fatalf("CancelReplayJob = %+v, %v", c, err)
	}
	if _, err := h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(lease)}); !errors.Is(err, store.ErrLeaseLost) {
		h.Fatalf("RunReplayBatch of a canceled job = %v, want ErrLeaseLost", err)
	}
	if _, err := h.s.ClaimReplayJob(h.ctx, "n1", now.Add(time.Hour), now.Add(2*time.Hour)); !isNotFound(err) {
		h.Fatalf("ClaimReplayJob of a canceled job = %v", err)
	}
	if _, err := h.s.CancelReplayJob(h.ctx, "rpl_missing", now); !isNotFound(err) {
		h.Fatalf("CancelReplayJob(missing) = %v", err)
	}
	if err := h.s.FailReplayJob(h.ctx, j.ID, "late", now); err != nil {
		h.Fatalf("FailReplayJob of a canceled job: %v", err)
	}
	if got, _ := h.s.GetReplayJob(h.ctx, j.ID); got.State != store.ReplayCanceled || got.Error != "" {
		h.Fatalf("FailReplayJob changed a canceled job: %+v", got)
	}
	k := h.createJob(&store.ReplayJob{Tenant: new("u"), Kind: store.ReplayMissingKind, Since: t0, EventTypes: []string{"invoice.*"}})
	all := h.createJob(&store.ReplayJob{Kind: store.ReplayFailedKind, Since: t0, Until: t0.Add(time.Hour),
		Statuses: []store.DeliveryStatus{store.StatusFailed, store.StatusCanceled}})
	if err := h.s.FailReplayJob(h.ctx, k.ID, "boom", now); err != nil {
		h.Fatalf("FailReplayJob: %v", err)
	}
	if got, _ := h.s.GetReplayJob(h.ctx, k.ID); got.State != store.ReplayFailedState || got.Error != "boom" || !slices.Equal(got.EventTypes, []string{"invoice.*"}) {
		h.Fatalf("failed job = %+v", got)
	}
	if got, _ := h.s.GetReplayJob(h.ctx, all.ID); got.Tenant != nil || !got.Until.Equal(t0.Add(time.Hour)) || len(got.Statuses) != 2 {
		h.Fatalf("job of every tenant = %+v", got)
	}
	list := func(f store.ReplayJobFilter) []string {
		h.Helper()
		var out []string
		for {
			js, next, err := h.s.ListReplayJobs(h.ctx, f)
			if err != nil {
				h.Fatalf("ListReplayJobs: %v", err)
			}
			for _, j := range js {
				out = append(out, j.ID)
			}
			if next == "" {
				return out
			}
			f.Cursor = next
		}
	}
	h.wantIDs("jobs of tenant t", list(store.ReplayJobFilter{Tenant: new("t")}), []string{j.ID})
	// Newest first: by id, which starts with the creation time.
	want := []string{all.ID, k.ID, j.ID}
	slices.Sort(want)
	slices.Reverse(want)
	if got := list(store.ReplayJobFilter{Page: store.Page{Limit: 1}}); !slices.Equal(got, want) {
		h.Fatalf("every job, newest first = %v, want %v", got, want)
	}
}

// testReplayJobAllEndpoints: a missing-events job over a tenant walks
// each of its enabled endpoints, batch by batch, and leaves other
// tenants' alone; a second job sends nothing twice.
func testReplayJobAllEndpoints(h *harness) {
	var events []string
	for i := range 3 {
		ev, _ := h.event("t", "invoice.paid", t0.Add(time.Duration(i)*time.Second))
		events = append(events, ev.ID)
	}
	h.event("t", "user.created", t0)
	h.event("u", "invoice.paid", t0)
	e1 := h.endpoint("t", nil)
	e2 := h.endpoint("t", nil)
	off := h.endpoint("t", func(e *store.Endpoint) { e.Disabled, e.DisabledReason = true, "manual" })
	eu := h.endpoint("u", nil)
	run := func() *store.ReplayJob {
		h.Helper()
		j := h.createJob(&store.ReplayJob{Tenant: new("t"), Kind: store.ReplayMissingKind, Since: t0, EventTypes: []string{"invoice.*"}})
		now := j.CreatedAt
		if _, err := h.s.ClaimReplayJob(h.ctx, "n1", now, now.Add(lease)); err != nil {
			h.Fatalf("ClaimReplayJob: %v", err)
		}
		for range 20 {
			r, err := h.s.RunReplayBatch(h.ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(lease), Batch: 2})
			if err != nil {
				h.Fatalf("RunReplayBatch: %v", err)
			}
			if r.State.Done() {
				return r
			}
		}
		h.Fatalf("job not done after 20 batches")
		return nil
	}
	if r := run(); r.State != store.ReplaySucceeded || r.Queued != 6 {
		h.Fatalf("job over tenant t = %+v; want 6 queued", r)
	}
	slices.Sort(events)
	h.wantIDs("e1's events", h.endpointEvents(e1.ID), events)
	h.wantIDs("e2's events", h.endpointEvents(e2.ID), events)
	h.wantIDs("disabled endpoint's events", h.endpointEvents(off.ID), nil)
	h.wantIDs("other tenant's events", h.endpointEvents(eu.ID), nil)
	if r := run(); r.Queued != 0 {
		h.Fatalf("second job queued %d, want 0", r.Queued)
	}
}
