package sqlite_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// recorder is a store.Dispatcher that admits the endpoints in admit and
// records what it is handed.
type recorder struct {
	admit map[string]bool
	mu    sync.Mutex
	jobs  []*store.Job
	at    []time.Time
}

func (r *recorder) Admits(id string) bool { return r.admit[id] }

func (r *recorder) Dispatch(jobs []*store.Job, claimedAt time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.jobs = append(r.jobs, jobs...)
	r.at = append(r.at, claimedAt)
}

// TestDispatchAtCreation checks SetDispatcher on SQLite: deliveries the
// dispatcher admits are created claimed and leased and handed over whole
// once committed; FIFO and rate-limited endpoints, and endpoints not
// admitted, are left to claims; a dispatched delivery can be completed with
// its claim, and is claimable again only when its lease is over.
func TestDispatchAtCreation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookrelay.db"), newCipher(t))
	defer s.Close()
	now := time.Now()
	mk := func(id string, fifo bool, rate float64) {
		t.Helper()
		e := &store.Endpoint{ID: id, URL: "https://example.com/" + id, Scheme: "standard", FIFO: fifo, RateLimit: rate,
			Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	mk("ep_direct", false, 0)
	mk("ep_fifo", true, 0)
	mk("ep_rate", false, 5)
	mk("ep_busy", false, 0)
	rec := &recorder{admit: map[string]bool{"ep_direct": true, "ep_fifo": true, "ep_rate": true}}
	const lease = time.Minute
	s.SetDispatcher(rec, lease)

	before := time.Now()
	ev, ds, err := s.CreateEvent(ctx, &store.Event{Type: "invoice.paid", Payload: []byte(`{"n":1}`)}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 4 {
		t.Fatalf("%d deliveries, want 4", len(ds))
	}
	claimed := map[string]*store.Delivery{}
	for _, d := range ds {
		if d.Claim != 0 {
			claimed[d.EndpointID] = d
		}
	}
	if len(claimed) != 1 || claimed["ep_direct"] == nil {
		t.Fatalf("claimed at creation: %v, want only ep_direct", claimed)
	}
	if len(rec.jobs) != 1 {
		t.Fatalf("dispatched %d jobs, want 1", len(rec.jobs))
	}
	j := rec.jobs[0]
	if j.Delivery.ID != claimed["ep_direct"].ID || j.Delivery.Claim != 1 || j.Event.ID != ev.ID ||
		string(j.Event.Payload) != `{"n":1}` || j.Endpoint.ID != "ep_direct" || len(j.Endpoint.Secrets) != 1 {
		t.Fatalf("job %+v", j)
	}
	if lo, hi := before.Add(lease-time.Millisecond), time.Now().Add(lease); j.Delivery.NextAttemptAt.Before(lo) || j.Delivery.NextAttemptAt.After(hi) {
		t.Errorf("lease ends %v, want within [%v, %v]", j.Delivery.NextAttemptAt, lo, hi)
	}

	// A claim now takes the three others, not the dispatched one.
	jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: time.Now(), Lease: lease, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, j := range jobs {
		got[j.Endpoint.ID] = true
	}
	if len(jobs) != 3 || got["ep_direct"] {
		t.Fatalf("claimed %v, want the three not dispatched", got)
	}
	// Past the lease, the dispatched delivery is due again.
	jobs, err = s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: time.Now().Add(lease + time.Second), Lease: lease, Limit: 10, ExcludeEndpoints: []string{"ep_fifo", "ep_rate", "ep_busy"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 || jobs[0].Delivery.ID != j.Delivery.ID || jobs[0].Delivery.Claim != 2 {
		t.Fatalf("after the lease: %d jobs, want the dispatched delivery with claim 2", len(jobs))
	}
	// The first claim is stale now; the second completes.
	res := func(claim int64) store.AttemptResult {
		return store.AttemptResult{DeliveryID: j.Delivery.ID, Claim: claim, Status: store.StatusSucceeded,
			Attempt: store.Attempt{StartedAt: time.Now(), URL: j.Endpoint.URL, StatusCode: 204}}
	}
	lost, err := s.CompleteAttempts(ctx, []store.AttemptResult{res(1), res(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lost) != 1 || lost[0] != 0 {
		t.Fatalf("lost %v, want [0]", lost)
	}
	d, err := s.GetDelivery(ctx, j.Delivery.ID)
	if err != nil || d.Status != store.StatusSucceeded || d.Attempts != 1 {
		t.Fatalf("delivery %+v, %v", d, err)
	}

	// Without a dispatcher nothing is claimed at creation.
	s.SetDispatcher(nil, 0)
	_, ds, err = s.CreateEvent(ctx, &store.Event{Type: "invoice.paid", Payload: []byte(`{}`)}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.Claim != 0 {
			t.Errorf("delivery to %s claimed with no dispatcher", d.EndpointID)
		}
	}
	if len(rec.jobs) != 1 {
		t.Errorf("dispatched %d jobs, want still 1", len(rec.jobs))
	}
}

// TestDispatchCompletesFirstClaim checks that a dispatched delivery is
// completed with the claim it was created with.
func TestDispatchCompletesFirstClaim(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookrelay.db"), newCipher(t))
	defer s.Close()
	now := time.Now()
	if err := s.CreateEndpoint(ctx, &store.Endpoint{ID: "ep_1", URL: "https://example.com/", Scheme: "standard",
		Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{admit: map[string]bool{"ep_1": true}}
	s.SetDispatcher(rec, time.Minute)
	if _, _, err := s.CreateEvent(ctx, &store.Event{Type: "x", Payload: []byte(`1`)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	j := rec.jobs[0]
	next := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	lost, err := s.CompleteAttempts(ctx, []store.AttemptResult{{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim,
		Status: store.StatusPending, NextAttemptAt: next, Attempt: store.Attempt{StartedAt: time.Now(), StatusCode: 503}}})
	if err != nil || len(lost) != 0 {
		t.Fatalf("complete: lost %v, %v", lost, err)
	}
	d, err := s.GetDelivery(ctx, j.Delivery.ID)
	if err != nil || d.Status != store.StatusPending || d.Attempts != 1 || !d.NextAttemptAt.Equal(next) || d.LastStatus != 503 {
		t.Fatalf("delivery %+v, %v", d, err)
	}
}

// TestDispatchBatch: CreateEvents asks the dispatcher once per endpoint and
// hands it at most one delivery per endpoint: Admits answers for one
// delivery, and an engine handed a whole batch would leave what it cannot
// take to wait for the leases. The others are created unclaimed, for the
// engine's claims, and the jobs carry their events.
func TestDispatchBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hookrelay.db"), newCipher(t))
	defer s.Close()
	now := time.Now()
	for _, id := range []string{"ep_a", "ep_b"} {
		e := &store.Endpoint{ID: id, URL: "https://example.com/" + id, Scheme: "standard",
			Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
		if err := s.CreateEndpoint(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{admit: map[string]bool{"ep_a": true, "ep_b": true}}
	s.SetDispatcher(rec, time.Minute)
	var evs []*store.Event
	for range 5 {
		evs = append(evs, &store.Event{Type: "invoice.paid", Payload: []byte(`{"n":1}`)})
	}
	res, err := s.CreateEvents(ctx, evs, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var claimed, unclaimed int
	for _, r := range res {
		for _, d := range r.Deliveries {
			if d.Claim != 0 {
				claimed++
			} else {
				unclaimed++
			}
		}
	}
	if claimed != 2 || unclaimed != 8 || len(rec.jobs) != 2 {
		t.Fatalf("%d claimed, %d unclaimed, %d dispatched; want 2, 8, 2", claimed, unclaimed, len(rec.jobs))
	}
	for _, j := range rec.jobs {
		if j.Event.ID != res[0].Event.ID || string(j.Event.Payload) != `{"n":1}` {
			t.Errorf("job event %+v, want event %s", j.Event, res[0].Event.ID)
		}
	}
	if jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 100}); err != nil || len(jobs) != 8 {
		t.Fatalf("claimed %d, %v; want the 8 not dispatched", len(jobs), err)
	}
}
