package delivery

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// fakeClock is a Config.Now that moves only when a test advances it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// passWatch follows the claim loop's passes (Engine.onLook): the event a
// test waits for to know that the engine looked, and what it decided.
type passWatch struct {
	e    *Engine
	mu   sync.Mutex
	n    int           // passes so far
	last time.Time     // what the latest pass claimed at
	next chan struct{} // closed by the next pass
}

// watchPasses starts following e's passes; call it before Run.
func watchPasses(e *Engine) *passWatch {
	w := &passWatch{e: e, next: make(chan struct{})}
	e.onLook = func(now time.Time, _ int) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.n, w.last = w.n+1, now
		close(w.next)
		w.next = make(chan struct{})
	}
	return w
}

// until waits until ok holds of the number of passes and the time the
// latest claimed at, waking the engine so that it need not wait for a poll.
func (w *passWatch) until(t *testing.T, what string, ok func(n int, last time.Time) bool) {
	t.Helper()
	if err := w.wait(what, false, ok); err != nil {
		t.Fatal(err)
	}
}

// wait is until for goroutines other than the test's: it returns an error
// instead of failing the test. If unlessStopped, it also returns (nil) once
// the engine is shutting down: it claims nothing more.
func (w *passWatch) wait(what string, unlessStopped bool, ok func(n int, last time.Time) bool) error {
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	// A stopped engine makes no pass to wake us: look now and then.
	recheck := time.NewTicker(10 * time.Millisecond)
	defer recheck.Stop()
	for {
		w.mu.Lock()
		n, last, next := w.n, w.last, w.next
		w.mu.Unlock()
		if ok(n, last) || unlessStopped && w.e.isStopping() {
			return nil
		}
		w.e.Notify()
		select {
		case <-recheck.C:
		case <-next:
		case <-timeout.C:
			return fmt.Errorf("engine: no %s within 10s (%d passes, the last at %v)", what, n, last)
		}
	}
}

// lookedAt waits until a pass that claimed at or after at has finished:
// what the engine decides at that time, it has decided.
func (w *passWatch) lookedAt(t *testing.T, at time.Time) {
	t.Helper()
	w.until(t, "claim pass at "+at.Format(time.RFC3339Nano), func(_ int, last time.Time) bool { return !last.Before(at) })
}

// another waits until a whole pass has run that started after the call.
func (w *passWatch) another(t *testing.T) {
	t.Helper()
	if err := w.waitAnother(); err != nil {
		t.Fatal(err)
	}
}

// waitAnother is another for receivers' handlers: it returns an error
// instead of failing the test, and returns at once when the engine shuts
// down (as it does at the end of a test while a handler may still wait).
func (w *passWatch) waitAnother() error {
	w.mu.Lock()
	n0 := w.n
	w.mu.Unlock()
	return w.wait("further claim pass", true, func(n int, _ time.Time) bool { return n >= n0+2 })
}

// counts says how many requests are in flight and how many claimed
// deliveries are held.
func (e *Engine) counts() (inflight, held int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight, e.held
}

// TestEngineDispatchOutsideRun: deliveries handed to Dispatch before Run
// starts (or after it returns) are left to their leases rather than
// started on workers that have nowhere to send their results. Before the
// fix the worker blocked forever on a nil channel (and Run's shutdown with
// it); after Run, it panicked sending on a closed one.
func TestEngineDispatchOutsideRun(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true})
	b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	claim := func() []*store.Job {
		t.Helper()
		b.accept(t, "x", `{}`)
		jobs, err := b.store.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: time.Now(), Lease: time.Minute, Limit: 10})
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %d jobs, %v", len(jobs), err)
		}
		return jobs
	}
	if b.engine.Admits("ep_any") {
		t.Error("an engine that is not running admits deliveries")
	}
	b.engine.Dispatch(claim(), time.Now())
	if inflight, held := b.engine.counts(); inflight != 0 || held != 0 {
		t.Fatalf("Dispatch before Run: %d in flight, %d held; want none", inflight, held)
	}
	// Run still works, and returns: no worker is stuck.
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	b.stop(t)
	b.engine.Dispatch(claim(), time.Now())
	if inflight, held := b.engine.counts(); inflight != 0 || held != 0 {
		t.Fatalf("Dispatch after Run: %d in flight, %d held; want none", inflight, held)
	}
}

// TestEngineHeldJobUsesEngineClock: a claimed delivery held behind its
// endpoint's concurrency limit is not sent once the engine's clock says its
// deadline (which leaves room for the attempt within the lease) has
// passed, however little real time went by; when the lease has run out on
// that clock it is claimed again and delivered. Before the fix the held
// deadlines were on time.Now while the leases were on Config.Now, so a held
// job could be sent on a lease another node already had.
func TestEngineHeldJobUsesEngineClock(t *testing.T) {
	t.Parallel()
	arrived := make(chan int, 4)
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		arrived <- n
		if n == 1 {
			<-release
		}
	})
	const (
		requestTimeout = 5 * time.Second
		lease          = 10 * time.Second // a held job must start within 4s of its claim
	)
	clk := newFakeClock(time.Time{}) // set once the deliveries exist
	b := setup(t, Config{AllowPrivateNetworks: true, Now: clk.now, RequestTimeout: requestTimeout, Lease: lease,
		EndpointConcurrency: 1})
	b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	_, first := b.accept(t, "x", `{"n":1}`)
	_, second := b.accept(t, "x", `{"n":2}`)
	clk.set(time.Now()) // both are due
	b.start(t)
	if n := <-arrived; n != 1 {
		t.Fatalf("request %d arrived first", n)
	}
	waitFor(t, 10*time.Second, func() bool { _, held := b.engine.counts(); return held == 1 },
		func() string { return "the second delivery is not held behind the first" })

	// Past the held deadline, within the lease; the first request ends.
	clk.advance(4*time.Second + 500*time.Millisecond)
	releaseOnce.Do(func() { close(release) })
	waitFor(t, 10*time.Second, func() bool { return b.engine.expired.Load() == 1 || rc.count() > 1 },
		func() string { return "the held delivery was neither dropped nor sent" })
	if n := rc.count(); n != 1 {
		t.Fatalf("%d requests: the held delivery was sent after its deadline on the engine's clock", n)
	}
	b.waitStatus(t, first[0].ID, store.StatusSucceeded, 10*time.Second)
	if d := b.delivery(t, second[0].ID); d.Status != store.StatusPending || d.Attempts != 0 {
		t.Fatalf("held delivery after its deadline: %s, %d attempts", d.Status, d.Attempts)
	}

	// Once its lease is over on the engine's clock, it is claimed again.
	clk.advance(lease)
	b.engine.Notify()
	d := b.waitStatus(t, second[0].ID, store.StatusSucceeded, 10*time.Second)
	if d.Claim != 2 || d.Attempts != 1 {
		t.Errorf("held delivery finally: claim %d, %d attempts; want claim 2, 1 attempt", d.Claim, d.Attempts)
	}
	if as := b.attempts(t, second[0].ID); len(as) != 1 || as[0].StartedAt.Before(clk.now().Add(-time.Second)) {
		t.Errorf("attempts %s, want one started at the engine's time %v", describe(as), clk.now())
	}
}

// isStopping reports whether the engine has stopped starting requests.
func (e *Engine) isStopping() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}
