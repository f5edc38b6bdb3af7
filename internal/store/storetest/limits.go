package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// limitTests check store.ClaimParams MaxInFlight and RateLimits on one
// Store.
var limitTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"MaxInFlight", testMaxInFlight},
	{"RateLimits", testRateLimits},
	{"MaxInFlightAndRateLimits", testMaxInFlightAndRateLimits},
	{"RateLimitsAfterDelete", testRateLimitsAfterDelete},
}

// testRateLimitsAfterDelete: an endpoint deleted with its bucket spent and
// created again with the same id starts with a full bucket: deleting it
// deleted its bucket.
func testRateLimitsAfterDelete(h *harness) {
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes, e.RateLimit = []string{"rl"}, 0.5 }) // burst 1
	for range 2 {
		h.event1("", "rl", t0)
	}
	limited := store.ClaimParams{RateLimits: true}
	if n := len(h.claimWith(h.s, limited, t0, 10)); n != 1 {
		h.Fatalf("first claim took %d, want the bucket's 1", n)
	}
	if err := h.s.DeleteEndpoint(h.ctx, e.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	again := newEndpoint("")
	again.ID, again.EventTypes, again.RateLimit = e.ID, []string{"rl"}, 0.5
	if err := h.s.CreateEndpoint(h.ctx, again); err != nil {
		h.Fatalf("CreateEndpoint again: %v", err)
	}
	h.event1("", "rl", t0)
	if n := len(h.claimWith(h.s, limited, t0, 10)); n != 1 {
		h.Fatalf("claim after re-creating the endpoint took %d, want 1 from a full bucket", n)
	}
}

// RunNodes runs the tests of what must hold across the Stores of one
// database, several hookrelay nodes sharing it: open returns n Stores on
// one fresh, empty database, closed when t ends. An implementation that
// allows one Store per database (SQLite) returns the same Store n times;
// the rules hold all the same.
func RunNodes(t *testing.T, open func(t *testing.T, n int) []store.Store) {
	tests := []struct {
		name  string
		nodes int
		fn    func(h *harness)
	}{
		{"MaxInFlightAcrossNodes", 4, testMaxInFlightAcrossNodes},
		{"RateLimitsAcrossNodes", 2, testRateLimitsAcrossNodes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nodes := open(t, tc.nodes)
			if len(nodes) != tc.nodes {
				t.Fatalf("open returned %d stores, want %d", len(nodes), tc.nodes)
			}
			h := &harness{T: t, s: nodes[0], ctx: t.Context(), nodes: nodes}
			tc.fn(h)
		})
	}
}

// claimWith claims with p's limits, at, lease and limit.
func (h *harness) claimWith(s store.Store, p store.ClaimParams, at time.Time, limit int) []*store.Job {
	h.Helper()
	p.Now, p.Lease, p.Limit = at, lease, limit
	jobs, err := s.ClaimDueDeliveries(h.ctx, p)
	if err != nil {
		h.Fatalf("ClaimDueDeliveries(%+v): %v", p, err)
	}
	return jobs
}

func byDelivery(jobs []*store.Job) map[string]*store.Job {
	m := make(map[string]*store.Job, len(jobs))
	for _, j := range jobs {
		m[j.Delivery.ID] = j
	}
	return m
}

// testMaxInFlight: a claim with a cap takes no more of an endpoint's
// deliveries than the cap less those in flight; the endpoint's backlog
// does not keep others' deliveries from being claimed; a completed
// attempt, a delivery waiting for its retry and an expired lease free
// their slot.
func testMaxInFlight(h *harness) {
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"hot"} })
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"cool"} })
	var hot []string
	for i := range 6 {
		hot = append(hot, h.event1("", "hot", t0.Add(time.Duration(i)*time.Millisecond)).ID)
	}
	cool := h.event1("", "cool", t0.Add(10*time.Millisecond)).ID
	capped := store.ClaimParams{MaxInFlight: 3}

	t1 := t0.Add(time.Second)
	first := h.claimWith(h.s, capped, t1, 10)
	h.wantIDs("first claim", jobIDs(first), sorted(hot[0], hot[1], hot[2], cool))
	jobs := byDelivery(first)
	h.succeed(t1, jobs[cool])
	// At its cap, the hot endpoint gives nothing more, and its backlog,
	// older than the new cool delivery, does not hold that one back.
	cool2 := h.event1("", "cool", t0.Add(20*time.Millisecond)).ID
	t2 := t1.Add(time.Second)
	second := h.claimWith(h.s, capped, t2, 10)
	h.wantIDs("at the cap", jobIDs(second), []string{cool2})
	h.succeed(t2, second...)
	h.wantIDs("still at the cap", jobIDs(h.claimWith(h.s, capped, t2, 10)), nil)

	// A completed attempt frees its slot.
	h.succeed(t2, jobs[hot[0]])
	h.wantIDs("after a success", jobIDs(h.claimWith(h.s, capped, t2, 10)), []string{hot[3]})
	// So does a failed one waiting for its retry: waiting is not in flight.
	if lost := h.complete(result(jobs[hot[1]], store.StatusPending, 503, t2, t2.Add(time.Hour))); len(lost) != 0 {
		h.Fatalf("lost %v", lost)
	}
	h.wantIDs("after a retry is scheduled", jobIDs(h.claimWith(h.s, capped, t2, 10)), []string{hot[4]})
	h.wantIDs("full again", jobIDs(h.claimWith(h.s, capped, t2, 10)), nil)

	// In flight: hot[2] (claimed at t1), hot[3] and hot[4] (at t2). Once
	// hot[2]'s lease is over it counts no more, and it is due again, after
	// hot[5], which has waited longer.
	t3 := t1.Add(lease)
	h.wantIDs("after a lease ran out", jobIDs(h.claimWith(h.s, capped, t3, 10)), []string{hot[5]})
	h.wantIDs("full at t3", jobIDs(h.claimWith(h.s, capped, t3, 10)), nil)
	// A claim without a cap does not keep to it.
	h.wantIDs("without a cap", jobIDs(h.claimWith(h.s, store.ClaimParams{}, t3, 10)), []string{hot[2]})
}

// testRateLimits: a claim with rate limits takes no more of an endpoint's
// deliveries than its bucket's whole tokens; the bucket refills at the
// endpoint's rate up to store.RateBurst; claims without rate limits ignore
// it; endpoints without a rate limit are not limited.
func testRateLimits(h *harness) {
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes, e.RateLimit = []string{"fast"}, 100 }) // burst 10
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes, e.RateLimit = []string{"slow"}, 0.5 }) // burst 1
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"free"} })
	if b := store.RateBurst(100); b != 10 {
		h.Fatalf("RateBurst(100) = %v, want 10", b)
	}
	if b := store.RateBurst(0.5); b != 1 {
		h.Fatalf("RateBurst(0.5) = %v, want 1", b)
	}
	kinds := map[string]string{}
	for range 20 {
		kinds[h.event1("", "fast", t0).ID] = "fast"
	}
	for range 5 {
		kinds[h.event1("", "slow", t0).ID] = "slow"
	}
	for range 3 {
		kinds[h.event1("", "free", t0).ID] = "free"
	}
	limited := store.ClaimParams{RateLimits: true}
	count := func(what string, jobs []*store.Job, want map[string]int) {
		h.Helper()
		got := map[string]int{}
		for _, j := range jobs {
			got[kinds[j.Delivery.ID]]++
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			h.Fatalf("%s: claimed %v, want %v", what, got, want)
		}
	}
	// Buckets start full.
	count("first claim", h.claimWith(h.s, limited, t0, 100), map[string]int{"fast": 10, "slow": 1, "free": 3})
	count("no tokens left", h.claimWith(h.s, limited, t0, 100), map[string]int{})
	// 50 ms at 100/s is 5 tokens; at 0.5/s, not a whole one.
	count("50ms later", h.claimWith(h.s, limited, t0.Add(50*time.Millisecond), 100), map[string]int{"fast": 5})
	// The bucket holds at most 10 tokens; 5 are due.
	count("a second later", h.claimWith(h.s, limited, t0.Add(time.Second), 100), map[string]int{"fast": 5})
	count("2.1s later", h.claimWith(h.s, limited, t0.Add(2100*time.Millisecond), 100), map[string]int{"slow": 1})
	// Without rate limits, the claim takes whatever is due.
	count("without rate limits", h.claimWith(h.s, store.ClaimParams{}, t0.Add(2100*time.Millisecond), 100), map[string]int{"slow": 3})
}

// testMaxInFlightAndRateLimits: with both, the stricter wins, and only
// what is claimed spends tokens.
func testMaxInFlightAndRateLimits(h *harness) {
	h.endpoint("", func(e *store.Endpoint) { e.RateLimit = 100 }) // burst 10
	for range 20 {
		h.event1("", "a", t0)
	}
	both := store.ClaimParams{MaxInFlight: 3, RateLimits: true}
	first := h.claimWith(h.s, both, t0, 100)
	if len(first) != 3 {
		h.Fatalf("first claim: %d, want 3 (the cap)", len(first))
	}
	h.succeed(t0, first...)
	// 7 tokens left, 3 slots.
	if n := len(h.claimWith(h.s, both, t0, 100)); n != 3 {
		h.Fatalf("second claim: %d, want 3", n)
	}
	// Without the cap: the 4 tokens left.
	if n := len(h.claimWith(h.s, store.ClaimParams{RateLimits: true}, t0, 100)); n != 4 {
		h.Fatalf("claim without the cap: %d, want the 4 tokens left", n)
	}
}

// testMaxInFlightAcrossNodes: claimers on several Stores, racing for one
// endpoint's deliveries with a cap of 3, never have more than 3 in flight
// between them, and each delivery is completed once.
func testMaxInFlightAcrossNodes(h *harness) {
	const (
		maxInFlight = 3
		total       = 120
	)
	h.endpoint("", nil)
	for range total {
		h.event1("", "a", t0)
	}
	var (
		inFlight, most atomic.Int32
		done           atomic.Int32
		mu             sync.Mutex
		completed      = map[string]int{}
		wg             sync.WaitGroup
	)
	deadline := time.Now().Add(60 * time.Second)
	for n, s := range h.nodes {
		wg.Go(func() {
			p := store.ClaimParams{Now: t0.Add(time.Minute), Lease: time.Hour, Limit: 1 + n%4, MaxInFlight: maxInFlight}
			for done.Load() < total && time.Now().Before(deadline) {
				jobs, err := s.ClaimDueDeliveries(h.ctx, p)
				if err != nil {
					h.Errorf("node %d: ClaimDueDeliveries: %v", n, err)
					return
				}
				if len(jobs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				// Counted from after the claim's commit to before the
				// completion's: never more than the store counts.
				now := inFlight.Add(int32(len(jobs)))
				if now > maxInFlight {
					h.Errorf("node %d: %d deliveries in flight, cap %d", n, now, maxInFlight)
				}
				for m := most.Load(); now > m && !most.CompareAndSwap(m, now); m = most.Load() {
				}
				time.Sleep(time.Millisecond) // the attempts
				var rs []store.AttemptResult
				mu.Lock()
				for _, j := range jobs {
					completed[j.Delivery.ID]++
					rs = append(rs, result(j, store.StatusSucceeded, 200, t0, time.Time{}))
				}
				mu.Unlock()
				inFlight.Add(-int32(len(jobs)))
				if lost, err := s.CompleteAttempts(h.ctx, rs); err != nil || len(lost) != 0 {
					h.Errorf("node %d: CompleteAttempts: lost %v, %v", n, lost, err)
					return
				}
				done.Add(int32(len(jobs)))
			}
		})
	}
	wg.Wait()
	if h.Failed() {
		return
	}
	if done.Load() != total || len(completed) != total {
		h.Fatalf("completed %d deliveries (%d distinct), want %d", done.Load(), len(completed), total)
	}
	for id, n := range completed {
		if n != 1 {
			h.Fatalf("delivery %s completed %d times", id, n)
		}
	}
	h.Logf("at most %d in flight", most.Load())
}

// testRateLimitsAcrossNodes: the token bucket is shared by every Store. In
// rounds 20 ms apart (2 tokens at 100/s), claimers on two Stores claim at
// once; all together they never take more than the burst plus what the
// rounds refilled. Then, with a full bucket, one node takes it all and the
// other finds none.
func testRateLimitsAcrossNodes(h *harness) {
	const (
		rate     = 100 // burst 10
		claimers = 3   // per node
		rounds   = 10
		step     = 20 * time.Millisecond
	)
	h.endpoint("", func(e *store.Endpoint) { e.RateLimit = rate })
	for range 200 {
		h.event1("", "a", t0)
	}
	burst := int(store.RateBurst(rate))
	total := 0
	for r := range rounds {
		at := t0.Add(time.Duration(r) * step)
		var (
			got   atomic.Int32
			wg    sync.WaitGroup
			start = make(chan struct{})
		)
		for n, s := range h.nodes {
			for c := range claimers {
				// Claims of different sizes want different candidates,
				// so that they do not simply queue for the same rows.
				limit := 1 + (n*claimers+c)%4
				wg.Go(func() {
					<-start
					jobs, err := s.ClaimDueDeliveries(h.ctx, store.ClaimParams{Now: at, Lease: time.Hour, Limit: limit, RateLimits: true})
					if err != nil {
						h.Errorf("node %d: ClaimDueDeliveries: %v", n, err)
					}
					got.Add(int32(len(jobs)))
				})
			}
		}
		close(start)
		wg.Wait()
		total += int(got.Load())
		if bound := burst + r*int(rate*step.Seconds()); total > bound {
			h.Fatalf("after round %d the claims took %d deliveries, more than the %d the bucket allows", r, total, bound)
		}
	}
	if total == 0 {
		h.Fatal("no claim took anything")
	}
	later := t0.Add(time.Minute) // the bucket is full again
	limited := store.ClaimParams{RateLimits: true}
	if n := len(h.claimWith(h.nodes[0], limited, later, 100)); n != burst {
		h.Fatalf("node 0 with a full bucket claimed %d, want %d", n, burst)
	}
	if n := len(h.claimWith(h.nodes[1], limited, later, 100)); n != 0 {
		h.Fatalf("node 1 right after node 0 emptied the bucket claimed %d, want 0", n)
	}
}
