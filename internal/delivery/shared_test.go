package delivery

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// sharedStore makes a store one that several nodes share, as PostgreSQL
// is: it claims nothing at creation, and the engine keeps its limits in
// the claims.
type sharedStore struct{ store.Store }

func (sharedStore) Shared() bool                                       { return true }
func (sharedStore) SetDispatcher(store.Dispatcher, time.Duration) bool { return false }

// ReleaseLeases releases nothing: on a shared store a node takes back
// only its own earlier leases, and these nodes have had no earlier run
// (the SQLite store underneath would release the other node's live ones).
func (sharedStore) ReleaseLeases(context.Context, time.Time) (int, error) { return 0, nil }

// TestEngineSharedStore runs two engines on one shared store, as
// two nodes on one database: a slow endpoint never has more than
// EndpointConcurrency requests in flight from both together, and a
// rate-limited one gets its rate from both together, not from each.
func TestEngineSharedStore(t *testing.T) {
	t.Parallel()
	const (
		concurrency = 2
		rate        = 10 // burst 1
		n           = 24
	)
	// The slow endpoint holds each request until both engines have made a
	// whole claim pass meanwhile (so that a claim past the limit would have
	// been made and started) and counts the requests it has at once. It
	// counts them itself: the engines' own counts include, for a moment,
	// a request whose result the store has already recorded.
	var inflight, most atomic.Int32
	var engines []*passWatch
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, _ int, _ []byte) {
		c := inflight.Add(1)
		defer inflight.Add(-1)
		for m := most.Load(); c > m && !most.CompareAndSwap(m, c); m = most.Load() {
		}
		for _, p := range engines {
			if err := p.waitAnother(); err != nil {
				t.Error(err)
			}
		}
	})
	limited := newReceiver(t, nil)
	// Small claims, so that both engines get some of each endpoint's
	// deliveries rather than the first taking them all.
	cfg := Config{AllowPrivateNetworks: true, EndpointConcurrency: concurrency, BatchSize: 2}
	a := setup(t, cfg)
	var err error
	cfg.Store = sharedStore{a.store}
	cfg.RetrySchedule, cfg.PollInterval = fastSchedule, 50*time.Millisecond
	if a.engine, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b := &testBundle{store: a.store, engine: other}
	a.endpoint(t, slow.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.EventTypes = []string{"slow"} })
	engines = []*passWatch{watchPasses(a.engine), watchPasses(b.engine)}
	a.endpoint(t, limited.URL, "github", []string{"s"}, func(ep *store.Endpoint) {
		ep.EventTypes, ep.RateLimit = []string{"limited"}, rate
	})
	for i := range n {
		a.accept(t, "slow", fmt.Sprintf(`{"i":%d}`, i))
		a.accept(t, "limited", fmt.Sprintf(`{"i":%d}`, i))
	}
	start := time.Now()
	a.start(t)
	b.start(t)
	waitFor(t, 20*time.Second, func() bool { return slow.count() == n && limited.count() == n },
		func() string {
			return fmt.Sprintf("slow got %d, limited got %d, want %d each", slow.count(), limited.count(), n)
		})
	took := time.Since(start)
	if m := most.Load(); m > concurrency {
		t.Errorf("%d requests in flight at once to the slow endpoint from two engines, want at most %d", m, concurrency)
	}
	// The store's bucket lets through rate*t + 1 in t seconds; the
	// engines' own buckets, one each, may add one more each.
	reqs := limited.requests()
	for i := range reqs {
		j := i
		for j < len(reqs) && reqs[j].at.Sub(reqs[i].at) < time.Second {
			j++
		}
		if j-i > rate+3 {
			t.Fatalf("%d requests within one second from request %d, limit %d/s", j-i, i, rate)
		}
	}
	if least := time.Duration(n-3) * time.Second / rate; took < least {
		t.Errorf("%d deliveries at %d/s from two engines took %v, want at least %v", n, rate, took, least)
	}
	t.Logf("two engines: at most %d in flight to the slow endpoint; %d rate-limited deliveries in %v", most.Load(), n, took)
}
