package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// RunRestart runs the tests of a node that dies (kill -9) with deliveries
// leased and starts again: store.Store.ReleaseLeases. newDB returns, for a
// fresh empty database of t's own, a function that opens a Store of it as
// the node named (its store's NodeID). The tests close what they open,
// and open a Store again only after closing the last one of the same
// node; an implementation that allows one Store per database at a time
// (SQLite, Shared false) gets every Store closed before the next is
// opened.
func RunRestart(t *testing.T, newDB func(t *testing.T) func(node string) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func(node string) store.Store)
	}{
		{"ReleaseLeasesAtRestart", testReleaseLeasesAtRestart},
		{"ReleaseLeasesLeavesTheRest", testReleaseLeasesLeavesTheRest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := newDB(t)
			tc.fn(t, func(node string) store.Store {
				s := &closeOnce{Store: db(node)}
				t.Cleanup(func() { s.Close() })
				return s
			})
		})
	}
}

// closeOnce is a Store that closes once, however often Close is called:
// the tests close their Stores to restart them, and the cleanup closes
// what a failed test left open.
type closeOnce struct {
	store.Store
	once sync.Once
	err  error
}

func (c *closeOnce) Close() error {
	c.once.Do(func() { c.err = c.Store.Close() })
	return c.err
}

// mustClose closes s, failing t if that fails.
func mustClose(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// testReleaseLeasesAtRestart: node a claims, dies, and starts again. On
// a store one process alone opens, every lease is a dead process's and
// comes back at once, node b's too; on a shared store only a's, while
// node b, alive, keeps its lease to its end. A result of a dead claim is
// then ErrLeaseLost and changes nothing.
func testReleaseLeasesAtRestart(t *testing.T, open func(node string) store.Store) {
	b := open("node-b")
	hb := &harness{T: t, s: b, ctx: t.Context()}
	shared := b.Shared()
	ep := hb.endpoint("", nil)
	var ids []string
	for i := range 4 {
		ids = append(ids, hb.event1("", "a", t0.Add(time.Duration(i)*time.Millisecond)).ID)
	}
	// b claims the oldest; then, on SQLite, b goes away (one Store at a
	// time) and a opens.
	jobB := hb.claim(t0, 1)
	if len(jobB) != 1 || jobB[0].Delivery.ID != ids[0] {
		t.Fatalf("b claimed %v, want [%s]", jobIDs(jobB), ids[0])
	}
	if !shared {
		mustClose(t, b)
	}
	a := open("node-a")
	ha := &harness{T: t, s: a, ctx: t.Context()}
	jobsA := ha.claim(t0.Add(3*time.Millisecond), 2)
	ha.wantIDs("a's claim", jobIDs(jobsA), sorted(ids[1], ids[2]))
	// ids[3] stays due and unclaimed.
	mustClose(t, a) // kill -9: no result is recorded

	at := t0.Add(time.Second) // well within the leases
	a2 := open("node-a")
	h := &harness{T: t, s: a2, ctx: t.Context()}
	n, err := a2.ReleaseLeases(h.ctx, at)
	if err != nil {
		t.Fatalf("ReleaseLeases: %v", err)
	}
	released := []string{ids[1], ids[2]}
	if !shared {
		released = append(released, ids[0])
	}
	if n != len(released) {
		t.Fatalf("ReleaseLeases released %d, want %d (shared %v)", n, len(released), shared)
	}
	for _, id := range released {
		if d := h.wantStatus(id, store.StatusPending); !d.NextAttemptAt.Equal(at) {
			t.Fatalf("delivery %s after release: next attempt %v, want %v", id, d.NextAttemptAt, at)
		}
	}
	want := sorted(append(slices.Clone(released), ids[3])...)
	jobs := h.claim(at, 10)
	h.wantIDs("claim right after the restart", jobIDs(jobs), want)
	if shared {
		// b is alive: its lease runs to its end, as before.
		h.wantIDs("claim before b's lease is over", h.claimIDs(t0.Add(lease-time.Millisecond), 10), nil)
		h.wantIDs("claim once b's lease is over", h.claimIDs(t0.Add(lease), 10), []string{ids[0]})
	}

	// The dead claim's result is lost; the new claim's stands.
	stale := result(jobsA[0], store.StatusSucceeded, 200, t0, time.Time{})
	if err := store.CompleteAttempt(h.ctx, a2, stale); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("CompleteAttempt of the dead claim = %v, want ErrLeaseLost", err)
	}
	if d := h.wantStatus(jobsA[0].Delivery.ID, store.StatusPending); d.Attempts != 0 {
		t.Fatalf("the dead claim's result was recorded: %+v", d)
	}
	var fresh *store.Job
	for _, j := range jobs {
		if j.Delivery.ID == jobsA[0].Delivery.ID {
			fresh = j
		}
	}
	if fresh == nil || fresh.Delivery.Claim <= jobsA[0].Delivery.Claim {
		t.Fatalf("new claim of %s = %+v, want a claim above %d", jobsA[0].Delivery.ID, fresh, jobsA[0].Delivery.Claim)
	}
	if err := store.CompleteAttempt(h.ctx, a2, result(fresh, store.StatusFailed, 500, at, time.Time{})); err != nil {
		t.Fatalf("CompleteAttempt of the new claim: %v", err)
	}
	if err := store.CompleteAttempt(h.ctx, a2, stale); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("CompleteAttempt of the dead claim after the new one = %v, want ErrLeaseLost", err)
	}
	if d := h.wantStatus(fresh.Delivery.ID, store.StatusFailed); d.Attempts != 1 || d.LastStatus != 500 {
		t.Fatalf("the new claim's result was overwritten: %+v", d)
	}
	_ = ep
}

// testReleaseLeasesLeavesTheRest: what is not leased is left as it is: a
// delivery waiting for its retry keeps its time, an expired lease and a
// finished delivery are not touched, and a second release finds nothing.
func testReleaseLeasesLeavesTheRest(t *testing.T, open func(node string) store.Store) {
	s := open("node-a")
	h := &harness{T: t, s: s, ctx: t.Context()}
	h.endpoint("", nil)
	retry := h.event1("", "a", t0)
	done := h.event1("", "a", t0.Add(time.Millisecond))
	expired := h.event1("", "a", t0.Add(2*time.Millisecond))
	jobs := h.claim(t0.Add(2*time.Millisecond), 10)
	if len(jobs) != 3 {
		t.Fatalf("claimed %d, want 3", len(jobs))
	}
	later := t0.Add(time.Hour)
	for _, j := range jobs {
		switch j.Delivery.ID {
		case retry.ID:
			h.complete(result(j, store.StatusPending, 500, t0, later))
		case done.ID:
			h.complete(result(j, store.StatusSucceeded, 200, t0, time.Time{}))
		}
	}
	mustClose(t, s)

	s2 := open("node-a")
	h = &harness{T: t, s: s2, ctx: t.Context()}
	at := t0.Add(lease + time.Second) // the expired one's lease is over
	n, err := s2.ReleaseLeases(h.ctx, at)
	if err != nil || n != 0 {
		t.Fatalf("ReleaseLeases = %d, %v; want 0, nil", n, err)
	}
	if d := h.wantStatus(retry.ID, store.StatusPending); !d.NextAttemptAt.Equal(later) {
		t.Fatalf("retry moved to %v, want %v", d.NextAttemptAt, later)
	}
	h.wantStatus(done.ID, store.StatusSucceeded)
	h.wantIDs("claim", h.claimIDs(at, 10), []string{expired.ID})
	if n, err := s2.ReleaseLeases(h.ctx, at); err != nil || n != 1 {
		// The claim just made is this Store's own: released too, as
		// documented (call it before claiming).
		t.Fatalf("ReleaseLeases of this run's own claim = %d, %v; want 1, nil", n, err)
	}
}
