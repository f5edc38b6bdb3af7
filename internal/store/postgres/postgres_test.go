package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/internal/store/storetest"
)

// baseURL returns the server the tests use. scripts/test.sh starts a
// throwaway one and sets HOOKRELAY_TEST_POSTGRES_URL; without it the tests
// are skipped, except in CI, where skipping would hide them.
func baseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HOOKRELAY_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HOOKRELAY_TEST_POSTGRES_URL is not set; scripts/test.sh starts a server and sets it")
		}
		t.Skip("HOOKRELAY_TEST_POSTGRES_URL is not set; run scripts/test.sh, or scripts/pg.sh start and set it")
	}
	return u
}

// withParam adds a run-time parameter to a DSN, URL or key=value.
func withParam(dsn, key, value string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value
}

// freshSchema creates an empty schema for t, dropped when t ends, and
// returns a DSN whose connections use it: tests run in parallel, each in a
// schema of its own.
func freshSchema(t testing.TB) string {
	t.Helper()
	base := baseURL(t)
	b := make([]byte, 8)
	rand.Read(b)
	name := "t_" + hex.EncodeToString(b)
	exec := func(q string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := exec("CREATE SCHEMA " + name); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + name + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return withParam(base, "search_path", name)
}

func newCipher(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// open opens a Store on dsn, closed when t ends.
func open(t testing.TB, dsn string, cipher store.Cipher) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn, &postgres.Config{Cipher: cipher, MaxConns: 4, SearchFields: storetest.SearchFields})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	baseURL(t)
	cipher := newCipher(t) // one key for all, as storetest.Run requires
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshSchema(t), cipher)
	})
}

// TestStoreNodes runs the suite's tests of several nodes: Stores with pools
// of their own on one schema.
func TestStoreNodes(t *testing.T) {
	t.Parallel()
	baseURL(t)
	storetest.RunNodes(t, func(t *testing.T, n int) []store.Store {
		out := make([]store.Store, n)
		for i, s := range nodes(t, n) {
			out[i] = s
		}
		return out
	})
}

// nodes opens n Stores on one fresh schema: n hookrelay nodes sharing a
// database, each with its own pool.
func nodes(t *testing.T, n int) []*postgres.Store {
	t.Helper()
	dsn := freshSchema(t)
	cipher := newCipher(t)
	out := make([]*postgres.Store, n)
	for i := range out {
		out[i] = open(t, dsn, cipher)
	}
	return out
}

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func endpoint(t testing.TB, s store.Store, tenant string, mod func(e *store.Endpoint)) *store.Endpoint {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := &store.Endpoint{ID: store.NewID("ep"), Tenant: tenant, URL: "https://example.com/hook", Scheme: "standard",
		Secrets: []store.Secret{{Value: "whsec_test", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
	if mod != nil {
		mod(e)
	}
	if err := s.CreateEndpoint(context.Background(), e); err != nil {
		t.Fatalf("CreateEndpoint: %v", err)
	}
	return e
}

func event(t testing.TB, s store.Store, tenant, typ string, at time.Time) []*store.Delivery {
	t.Helper()
	_, ds, err := s.CreateEvent(context.Background(), &store.Event{Tenant: tenant, Type: typ, Payload: []byte(`{}`), CreatedAt: at}, time.Time{})
	if err != nil {
		t.Fatalf("CreateEvent: %v", err)
	}
	return ds
}

func result(j *store.Job, status store.DeliveryStatus, next time.Time) store.AttemptResult {
	code := 200
	if status != store.StatusSucceeded {
		code = 503
	}
	return store.AttemptResult{
		DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: status, NextAttemptAt: next,
		Attempt: store.Attempt{StartedAt: t0, Duration: time.Millisecond, URL: j.Endpoint.URL, StatusCode: code, Trigger: "scheduled"},
	}
}

// TestNodesShareTheQueue runs producers and claimers on two nodes at once,
// many goroutines each: no delivery is ever claimed by two workers at once,
// every one is completed, and the FIFO endpoint has at most one delivery in
// flight and goes in acceptance order, across nodes.
func TestNodesShareTheQueue(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	for range 3 {
		endpoint(t, ns[0], "", func(e *store.Endpoint) { e.EventTypes = []string{"plain"} })
	}
	fifo := endpoint(t, ns[1], "", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"fifo"} })
	const (
		producersPerNode = 4
		eventsEach       = 15 // each: one plain event (3 deliveries) and one FIFO event
		claimersPerNode  = 6
		want             = 2 * producersPerNode * eventsEach * 4
	)
	var (
		mu         sync.Mutex
		inFlight   = map[string]string{} // delivery id → worker holding it
		claims     = map[string]int{}
		fifoClaims []string // in claim order
		fifoCount  atomic.Int32
		created    = map[string]bool{}
		fifoIDs    []string
		done       atomic.Int64
		wg         sync.WaitGroup
	)
	for n, s := range ns {
		for p := range producersPerNode {
			wg.Go(func() {
				for range eventsEach {
					for _, typ := range []string{"plain", "fifo"} {
						_, ds, err := s.CreateEvent(ctx, &store.Event{Type: typ, Payload: []byte(`{}`), CreatedAt: t0}, time.Time{})
						if err != nil {
							t.Errorf("node %d producer %d: CreateEvent: %v", n, p, err)
							return
						}
						mu.Lock()
						for _, d := range ds {
							created[d.ID] = true
							if typ == "fifo" {
								fifoIDs = append(fifoIDs, d.ID)
							}
						}
						mu.Unlock()
					}
				}
			})
		}
		for w := range claimersPerNode {
			worker := fmt.Sprintf("node%d/worker%d", n, w)
			wg.Go(func() {
				for i := 0; done.Load() < want && ctx.Err() == nil; i++ {
					jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0, Lease: time.Hour, Limit: 5})
					if err != nil {
						t.Errorf("%s: ClaimDueDeliveries: %v", worker, err)
						return
					}
					if len(jobs) == 0 {
						time.Sleep(time.Millisecond)
						continue
					}
					var rs []store.AttemptResult
					finished := 0
					mu.Lock()
					for k, j := range jobs {
						id := j.Delivery.ID
						if other, ok := inFlight[id]; ok {
							t.Errorf("%s claimed %s, which %s holds", worker, id, other)
						}
						inFlight[id] = worker
						claims[id]++
						if j.Endpoint.ID == fifo.ID {
							if n := fifoCount.Add(1); n > 1 {
								t.Errorf("%d FIFO deliveries in flight", n)
							}
							fifoClaims = append(fifoClaims, id)
						}
						// Every third attempt fails and is due again at once:
						// the delivery goes back to the queue for any node.
						status := store.StatusSucceeded
						if (i+k)%3 == 0 {
							status = store.StatusPending
						} else {
							finished++
						}
						rs = append(rs, result(j, status, t0))
					}
					// Out of flight before completing: until the commit the
					// lease keeps every other worker away.
					for _, j := range jobs {
						delete(inFlight, j.Delivery.ID)
						if j.Endpoint.ID == fifo.ID {
							fifoCount.Add(-1)
						}
					}
					mu.Unlock()
					lost, err := s.CompleteAttempts(ctx, rs)
					if err != nil || len(lost) != 0 {
						t.Errorf("%s: CompleteAttempts: lost %v, %v", worker, lost, err)
						return
					}
					done.Add(int64(finished))
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if ctx.Err() != nil {
		t.Fatalf("timed out with %d of %d deliveries done", done.Load(), want)
	}
	if len(created) != want || done.Load() != want {
		t.Fatalf("created %d deliveries, finished %d; want %d", len(created), done.Load(), want)
	}
	// Every claim made one attempt, and each delivery ended succeeded.
	for id := range created {
		d, err := ns[0].GetDelivery(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status != store.StatusSucceeded || d.Attempts != claims[id] {
			t.Fatalf("delivery %s: status %s, %d attempts, claimed %d times", id, d.Status, d.Attempts, claims[id])
		}
	}
	// The FIFO deliveries went one at a time (a failed head is claimed
	// again before the next), in id order, which is acceptance order.
	order := slices.Compact(slices.Clone(fifoClaims))
	slices.Sort(fifoIDs)
	if !slices.Equal(order, fifoIDs) {
		t.Fatalf("FIFO deliveries claimed in the order\n%v\nwant\n%v", order, fifoIDs)
	}
	st, err := ns[1].QueueStats(ctx, t0.Add(2*time.Hour))
	if err != nil || st.Pending != 0 {
		t.Fatalf("QueueStats after the run = %+v, %v", st, err)
	}
}

// TestLeaseTakeover: a node that dies mid-attempt has its delivery taken
// over by another once the lease is over; its late result is then stale.
// A FIFO head is taken over the same way, and what waits behind it keeps
// waiting.
func TestLeaseTakeover(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	a, b := ns[0], ns[1]
	ctx := t.Context()
	const lease = 30 * time.Second
	endpoint(t, a, "", func(e *store.Endpoint) { e.EventTypes = []string{"plain"} })
	endpoint(t, a, "", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"fifo"} })
	plain := event(t, a, "", "plain", t0)[0]
	head := event(t, b, "", "fifo", t0)[0]
	next := event(t, a, "", "fifo", t0)[0]

	claim := func(s *postgres.Store, at time.Time) []*store.Job {
		t.Helper()
		jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: at, Lease: lease, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	ids := func(jobs []*store.Job) []string {
		var out []string
		for _, j := range jobs {
			out = append(out, j.Delivery.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }

	first := claim(a, t0) // node a claims, then dies
	if got := ids(first); !slices.Equal(got, sorted(plain.ID, head.ID)) {
		t.Fatalf("node a claimed %v, want the plain delivery and the FIFO head", got)
	}
	if got := ids(claim(b, t0.Add(lease-time.Millisecond))); len(got) != 0 {
		t.Fatalf("node b claimed %v before the lease ended", got)
	}
	second := claim(b, t0.Add(lease))
	if got := ids(second); !slices.Equal(got, sorted(plain.ID, head.ID)) {
		t.Fatalf("node b took over %v, want the plain delivery and the FIFO head (not %s)", got, next.ID)
	}
	for i, j := range second {
		if j.Delivery.Claim != first[i].Delivery.Claim+1 {
			t.Fatalf("take-over claim %d, first claim %d", j.Delivery.Claim, first[i].Delivery.Claim)
		}
	}
	// Node a comes back: its results are stale and change nothing.
	var stale []store.AttemptResult
	for _, j := range first {
		stale = append(stale, result(j, store.StatusSucceeded, time.Time{}))
	}
	if lost, err := a.CompleteAttempts(ctx, stale); err != nil || !slices.Equal(lost, []int{0, 1}) {
		t.Fatalf("stale completion: lost %v, %v; want [0 1]", lost, err)
	}
	var current []store.AttemptResult
	for _, j := range second {
		current = append(current, result(j, store.StatusSucceeded, time.Time{}))
	}
	if lost, err := b.CompleteAttempts(ctx, current); err != nil || len(lost) != 0 {
		t.Fatalf("completion by node b: lost %v, %v", lost, err)
	}
	if got := ids(claim(a, t0.Add(lease))); !slices.Equal(got, []string{next.ID}) {
		t.Fatalf("after the head succeeded node a claimed %v, want %s", got, next.ID)
	}
	for _, id := range []string{plain.ID, head.ID} {
		d, err := a.GetDelivery(ctx, id)
		if err != nil || d.Status != store.StatusSucceeded || d.Attempts != 1 {
			t.Fatalf("delivery %s = %+v, %v; want succeeded after 1 attempt", id, d, err)
		}
	}
}

// TestFIFOHeadAcrossNodes: while one node holds a FIFO endpoint's head,
// claimers on the other node, however many, get nothing of that endpoint,
// even though SKIP LOCKED lets them past the locked head.
func TestFIFOHeadAcrossNodes(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	f := endpoint(t, ns[0], "", func(e *store.Endpoint) { e.FIFO = true })
	var want []string
	for i := range 20 {
		want = append(want, event(t, ns[i%2], "", "a", t0)[0].ID)
	}
	if !slices.IsSorted(want) {
		t.Fatalf("FIFO delivery ids not in acceptance order: %v", want)
	}
	var got []string
	at := t0
	for range want {
		// Both nodes race for the head, from several goroutines each.
		var (
			mu   sync.Mutex
			jobs []*store.Job
			wg   sync.WaitGroup
		)
		for i := range 8 {
			wg.Go(func() {
				js, err := ns[i%2].ClaimDueDeliveries(ctx, store.ClaimParams{Now: at, Lease: time.Minute, Limit: 10})
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				jobs = append(jobs, js...)
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(jobs) != 1 || jobs[0].Endpoint.ID != f.ID {
			t.Fatalf("concurrent claims got %d jobs, want the head alone", len(jobs))
		}
		got = append(got, jobs[0].Delivery.ID)
		if lost, err := ns[1].CompleteAttempts(ctx, []store.AttemptResult{result(jobs[0], store.StatusSucceeded, time.Time{})}); err != nil || len(lost) != 0 {
			t.Fatalf("CompleteAttempts: lost %v, %v", lost, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("claimed\n%v\nwant\n%v", got, want)
	}
}

// TestFIFORaces races the writes that decide a FIFO endpoint's head, one
// node against the other, round after round: two events accepted at once
// for an idle endpoint make one head, not two; an event accepted while the
// head completes is never left waiting behind a head that is gone.
func TestFIFORaces(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	endpoint(t, ns[0], "", func(e *store.Endpoint) { e.FIFO = true })
	at := t0
	claim := func() []*store.Job {
		t.Helper()
		jobs, err := ns[0].ClaimDueDeliveries(ctx, store.ClaimParams{Now: at, Lease: time.Minute, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}
	succeed := func(s *postgres.Store, j *store.Job) {
		t.Helper()
		if lost, err := s.CompleteAttempts(ctx, []store.AttemptResult{result(j, store.StatusSucceeded, time.Time{})}); err != nil || len(lost) != 0 {
			t.Errorf("CompleteAttempts: lost %v, %v", lost, err)
		}
	}
	// race runs fa on node a and fb on node b at the same moment.
	race := func(fa, fb func(s *postgres.Store)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; fa(ns[0]) })
		wg.Go(func() { <-start; fb(ns[1]) })
		close(start)
		wg.Wait()
	}
	accept := func(s *postgres.Store) {
		if _, _, err := s.CreateEvent(ctx, &store.Event{Type: "a", Payload: []byte(`{}`), CreatedAt: at}, time.Time{}); err != nil {
			t.Error(err)
		}
	}
	for round := range 30 {
		// Two events for an idle endpoint.
		race(accept, accept)
		jobs := claim()
		if len(jobs) != 1 {
			t.Fatalf("round %d: two events accepted at once made %d claimable deliveries, want 1", round, len(jobs))
		}
		// The head completes while a third event is accepted.
		head := jobs[0]
		race(func(s *postgres.Store) { succeed(s, head) }, accept)
		for range 2 {
			jobs = claim()
			if len(jobs) != 1 {
				t.Fatalf("round %d: %d claimable deliveries after the head completed, want 1", round, len(jobs))
			}
			succeed(ns[0], jobs[0])
		}
		if t.Failed() {
			return
		}
		at = at.Add(time.Second)
	}
}

// TestAdvisoryLock: the lock is exclusive across nodes and connections,
// and free again once released.
func TestAdvisoryLock(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx := t.Context()
	b := make([]byte, 8)
	rand.Read(b)
	key := int64(b[0])<<56 | int64(b[1])<<48 | int64(b[2])<<40 | int64(b[3])<<32 | int64(b[4])<<24 | int64(b[5])<<16 | int64(b[6])<<8 | int64(b[7])

	var (
		winners  atomic.Int32
		releases = make(chan func(), 16)
		wg       sync.WaitGroup
	)
	for i := range 16 {
		wg.Go(func() {
			release, ok, err := ns[i%2].TryAdvisoryLock(ctx, key)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				winners.Add(1)
				releases <- release
			}
		})
	}
	wg.Wait()
	close(releases)
	if n := winners.Load(); n != 1 {
		t.Fatalf("%d holders of the lock at once, want 1", n)
	}
	release := <-releases
	for _, s := range ns {
		if _, ok, err := s.TryAdvisoryLock(ctx, key); err != nil || ok {
			t.Fatalf("TryAdvisoryLock while held = %v, %v; want false", ok, err)
		}
	}
	release()
	release() // a second call does nothing
	r2, ok, err := ns[1].TryAdvisoryLock(ctx, key)
	if err != nil || !ok {
		t.Fatalf("TryAdvisoryLock after release = %v, %v; want true", ok, err)
	}
	if _, ok, _ := ns[0].TryAdvisoryLock(ctx, key+1); !ok {
		t.Fatalf("another key is not free")
	}
	r2()
}

// TestWritersDoNotDeadlock runs every kind of write on two nodes at once
// against a few shared endpoints, then checks the hold flags: the locking
// order must never deadlock (PostgreSQL would fail one transaction with
// SQLSTATE 40P01) and must keep the flags right.
func TestWritersDoNotDeadlock(t *testing.T) {
	t.Parallel()
	ns := nodes(t, 2)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	var eps []*store.Endpoint
	for i := range 4 {
		eps = append(eps, endpoint(t, ns[0], []string{"a", "b"}[i%2], func(e *store.Endpoint) { e.FIFO = i < 2 }))
	}
	var (
		wg  sync.WaitGroup
		ops atomic.Int64
	)
	check := func(what string, err error) bool {
		if err != nil && ctx.Err() == nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
			t.Errorf("%s: %v", what, err)
			return false
		}
		ops.Add(1)
		return ctx.Err() == nil
	}
	for n, s := range ns {
		for _, tenant := range []string{"a", "b"} {
			wg.Go(func() { // producers
				for {
					_, _, err := s.CreateEvent(ctx, &store.Event{Tenant: tenant, Type: "x", Payload: []byte(`{}`), CreatedAt: t0}, time.Time{})
					if !check("CreateEvent", err) {
						return
					}
				}
			})
		}
		wg.Go(func() { // workers: claim, then fail or succeed, in batches across endpoints
			for i := 0; ; i++ {
				jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0.Add(time.Hour), Lease: time.Minute, Limit: 8})
				if !check("ClaimDueDeliveries", err) {
					return
				}
				var rs []store.AttemptResult
				for k, j := range jobs {
					rs = append(rs, result(j, []store.DeliveryStatus{store.StatusSucceeded, store.StatusFailed, store.StatusPending}[(i+k)%3], t0))
				}
				slices.Reverse(rs)
				if _, err := s.CompleteAttempts(ctx, rs); !check("CompleteAttempts", err) {
					return
				}
			}
		})
		wg.Go(func() { // an operator changing endpoints
			for i := 0; ; i++ {
				e := *eps[(i+n)%len(eps)]
				_, err := s.UpdateEndpoint(ctx, e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
					return store.EndpointPatch{Enabled: new(i%3 != 0), FIFO: new(i%2 == 0)}, nil
				})
				if !check("UpdateEndpoint", err) {
					return
				}
				_, err = s.ReplayFailed(ctx, e.ID, time.Time{}, t0)
				if !check("ReplayFailed", err) {
					return
				}
				list, _, err := s.ListDeliveries(ctx, store.DeliveryFilter{EndpointID: e.ID, Page: store.Page{Limit: 3}})
				if !check("ListDeliveries", err) {
					return
				}
				for _, d := range list {
					_, err := s.RetryDelivery(ctx, d.ID, t0)
					if !check("RetryDelivery", err) {
						return
					}
				}
				_, err = s.DisableFailingEndpoints(ctx, t0.Add(time.Hour), "auto")
				if !check("DisableFailingEndpoints", err) {
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("%d operations", ops.Load())
	if t.Failed() {
		return
	}
	// Hold flags: all set for a disabled endpoint, none for an enabled
	// plain one, all but the head's for an enabled FIFO one: its oldest
	// pending delivery, or the one in flight if an older one was retried
	// or replayed meanwhile.
	for _, e := range eps {
		got, err := ns[0].GetEndpoint(t.Context(), e.ID)
		if err != nil {
			t.Fatal(err)
		}
		held, free := pendingHolds(t, ns[0], e.ID)
		total := len(held) + len(free)
		switch {
		case got.Disabled:
			if len(free) != 0 {
				t.Errorf("disabled endpoint %s has %d claimable deliveries", e.ID, len(free))
			}
		case !got.FIFO:
			if len(held) != 0 {
				t.Errorf("plain endpoint %s has %d held deliveries", e.ID, len(held))
			}
		case total > 0:
			all := append(slices.Clone(held), free...)
			if len(free) != 1 || free[0] != slices.Min(all) && !inFlight(t, ns[0], free[0], t0) {
				t.Errorf("FIFO endpoint %s: claimable %v of %d pending, want the oldest, or the one in flight, alone", e.ID, free, total)
			}
		}
	}
}

// pendingHolds reads the hold flags of an endpoint's pending deliveries
// from the store's schema, through the test's own DSN.
// inFlight reports whether the delivery's lease runs past now.
func inFlight(t *testing.T, s *postgres.Store, id string, now time.Time) bool {
	t.Helper()
	rows, err := s.TestQuery(t.Context(), `SELECT coalesce(leased_until > $2, false) FROM deliveries WHERE id = $1`, id, now.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	leased, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil {
		t.Fatal(err)
	}
	return leased
}

func pendingHolds(t *testing.T, s *postgres.Store, endpointID string) (held, free []string) {
	t.Helper()
	rows, err := s.TestQuery(t.Context(), `SELECT id, hold FROM deliveries WHERE endpoint_id = $1 AND status = 'pending' ORDER BY id`, endpointID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var (
			id   string
			hold bool
		)
		if err := rows.Scan(&id, &hold); err != nil {
			t.Fatal(err)
		}
		if hold {
			held = append(held, id)
		} else {
			free = append(free, id)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return held, free
}

// TestExactBytes: payloads are BYTEA, kept byte for byte even when they are
// not valid UTF-8 or hold a NUL, which TEXT would refuse; attempt errors
// that do are cleaned rather than failing the batch.
func TestExactBytes(t *testing.T) {
	t.Parallel()
	s := nodes(t, 1)[0]
	ctx := t.Context()
	endpoint(t, s, "", nil)
	payload := []byte("{\"a\":\"\xff\xfe\x00\"}")
	ev, _, err := s.CreateEvent(ctx, &store.Event{Type: "a", Payload: payload, CreatedAt: t0}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetEvent(ctx, ev.ID)
	if err != nil || string(got.Payload) != string(payload) {
		t.Fatalf("GetEvent payload = %q, %v; want %q", got.Payload, err, payload)
	}
	jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0, Lease: time.Minute, Limit: 1})
	if err != nil || len(jobs) != 1 || string(jobs[0].Event.Payload) != string(payload) {
		t.Fatalf("claimed %d jobs, %v", len(jobs), err)
	}
	r := result(jobs[0], store.StatusFailed, time.Time{})
	r.Attempt.Error = "bad response \x00\xff"
	if lost, err := s.CompleteAttempts(ctx, []store.AttemptResult{r}); err != nil || len(lost) != 0 {
		t.Fatalf("CompleteAttempts: lost %v, %v", lost, err)
	}
	atts, err := s.ListAttempts(ctx, jobs[0].Delivery.ID)
	if err != nil || len(atts) != 1 || atts[0].Error != "bad response \uFFFD\uFFFD" {
		t.Fatalf("ListAttempts = %+v, %v", atts, err)
	}
}

// TestMigrate: Migrate and Open migrate once, however many nodes start at
// the same moment, and are no-ops afterwards.
func TestMigrate(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			if err := postgres.Migrate(t.Context(), dsn); err != nil {
				t.Errorf("Migrate: %v", err)
			}
		})
	}
	wg.Wait()
	s := open(t, dsn, newCipher(t))
	if err := postgres.Migrate(t.Context(), dsn); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	rows, err := s.TestQuery(t.Context(), `SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	want := []int64{0} // goose's own
	files, _ := filepath.Glob("migrations/*.sql")
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(filepath.Base(f), "_", 2)[0], 10, 64)
		if err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		want = append(want, v)
	}
	if err != nil || !slices.Equal(versions, want) {
		t.Fatalf("applied versions = %v, %v; want %v", versions, err, want)
	}
}

func TestOpenConfig(t *testing.T) {
	t.Parallel()
	if _, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/x", nil); err == nil {
		t.Fatal("Open without a Cipher succeeded")
	}
	if _, err := postgres.Open(t.Context(), "postgres://127.0.0.1:1/x", &postgres.Config{Cipher: newCipher(t), MaxConns: -1}); err == nil {
		t.Fatal("Open with MaxConns -1 succeeded")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://nobody:secret-password@127.0.0.1:1/x?connect_timeout=5", &postgres.Config{Cipher: newCipher(t)})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if strings.Contains(err.Error(), "secret-password") {
		t.Fatalf("the error shows the password: %v", err)
	}
}

// TestQueryPlans pins the plans of the queue's queries: each must search the
// index it was written for and never sort, so that their cost does not grow
// with the queue or the history.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := nodes(t, 1)[0]
	if err := s.SeedHistory(t.Context()); err != nil {
		t.Fatal(err)
	}
	tenant := "t"
	list := func(f store.DeliveryFilter) (string, []any) { return postgres.ListDeliveriesQuery(f, 50) }
	queries := slices.Clone(postgres.Queries)
	for _, tc := range []struct {
		name  string
		f     store.DeliveryFilter
		index string
	}{
		{"list all", store.DeliveryFilter{}, "deliveries_pkey"},
		{"list by endpoint", store.DeliveryFilter{EndpointID: "e", Page: store.Page{Cursor: "dlv_x"}}, "deliveries_endpoint"},
		{"list by event", store.DeliveryFilter{EventID: "e"}, "deliveries_event"},
		{"list by tenant", store.DeliveryFilter{Tenant: &tenant}, "deliveries_tenant"},
		{"list failed", store.DeliveryFilter{Status: store.StatusFailed}, "deliveries_failed"},
	} {
		q, args := list(tc.f)
		queries = append(queries, struct {
			Name, Query string
			Args        []any
			Index       string
		}{tc.name, q, args, tc.index})
	}
	for _, q := range queries {
		plan, err := s.Explain(t.Context(), q.Query, q.Args...)
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		if strings.Contains(plan, "Seq Scan on deliveries") || strings.Contains(plan, "Sort") && !postgres.SortsCandidates[q.Name] {
			t.Errorf("%s: plan sorts or scans:\n%s", q.Name, plan)
		}
		if !slices.ContainsFunc(strings.Split(q.Index, "|"), func(index string) bool {
			return strings.Contains(plan, " using "+index+" ") || strings.Contains(plan, " on "+index+" ")
		}) {
			t.Errorf("%s: plan does not use %s:\n%s", q.Name, q.Index, plan)
		}
	}
	// Limited claims run on generic plans: those too.
	for _, q := range postgres.GenericPlans {
		plan, err := s.ExplainGeneric(t.Context(), q.Query, q.Args)
		if err != nil {
			t.Fatalf("%s, generic plan: %v", q.Name, err)
		}
		for _, index := range q.Indexes {
			if !strings.Contains(plan, " using "+index+" ") && !strings.Contains(plan, " on "+index+" ") {
				t.Errorf("%s, generic plan: does not use %s:\n%s", q.Name, index, plan)
			}
		}
		if strings.Contains(plan, "Seq Scan on deliveries") {
			t.Errorf("%s, generic plan: scans deliveries:\n%s", q.Name, plan)
		}
	}
}

// TestImportFromSQLite moves a SQLite store into PostgreSQL the way
// `hookrelay export | hookrelay import` does, through the records' JSON,
// and checks that PostgreSQL then holds the same rows and behaves the same.
func TestImportFromSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cipher := newCipher(t) // both stores share the key, as they must
	src, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "hookrelay.db"), &sqlite.Config{Cipher: cipher})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := open(t, freshSchema(t), cipher)

	// A bit of everything in SQLite.
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i, name := range []string{"ci", "revoked"} {
		k := &store.APIKey{ID: store.NewID("key"), Name: name, Hash: []byte{byte(i), 1, 2, 3}, Prefix: "hr_" + name, CreatedAt: now, LastUsedAt: &now}
		if err := src.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		if name == "revoked" {
			if err := src.RevokeAPIKey(ctx, k.ID, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	plain := endpoint(t, src, "", func(e *store.Endpoint) { e.Description = "plain" })
	expires := t0.Add(time.Hour)
	fifo := endpoint(t, src, "acme", func(e *store.Endpoint) {
		e.Scheme, e.CustomScheme = "custom", []byte(`{"header":"X-Sig"}`)
		e.FIFO, e.RateLimit, e.EventTypes = true, 1.5, []string{"invoice.*"}
		e.Secrets = append(e.Secrets, store.Secret{Value: "whsec_old", CreatedAt: now, ExpiresAt: &expires})
	})
	off := endpoint(t, src, "acme", func(e *store.Endpoint) { e.EventTypes = []string{"x"} })
	github := &store.Source{ID: store.NewID("src"), Name: "github", Description: "pushes", Scheme: "github",
		Secrets:    []store.Secret{{Value: "gh-secret", CreatedAt: now}},
		ZoomSecret: store.Secret{Value: "zoom-token", CreatedAt: now}, Tolerance: time.Minute,
		DedupeWindow: time.Hour, CreatedAt: now, UpdatedAt: now}
	if err := src.CreateSource(ctx, github, nil); err != nil {
		t.Fatal(err)
	}
	if err := src.CreateEventType(ctx, &store.EventType{Name: "invoice.paid", Description: "paid",
		Schema:  []byte(`{"type":"object", "properties":{"n":{"maximum":123456789012345678901234567890}}}`),
		Example: []byte(`{"n": 1.0}`), Enforce: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	ev := &store.Event{ID: store.NewID("evt"), Tenant: "acme", Type: "invoice.paid", CreatedAt: t0,
		Payload:        []byte("{ \"amount\" : 1.0e+00,\n\t\"s\":\"caf\\u00e9 é\" }  "),
		IdempotencyKey: "key-1", ContentType: "application/x-www-form-urlencoded", Headers: map[string]string{"X-A": "1"}}
	if _, _, err := src.CreateEvent(ctx, ev, time.Time{}); err != nil {
		t.Fatal(err)
	}
	event(t, src, "acme", "invoice.sent", t0) // held behind ev on the FIFO endpoint
	event(t, src, "acme", "x", t0)
	if _, err := src.UpdateEndpoint(ctx, off.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Enabled: new(false)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		event(t, src, "", "any", t0)
	}
	jobs, err := src.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 4 {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	var results []store.AttemptResult
	plainJobs := 0
	for _, j := range jobs {
		if j.Endpoint.ID == fifo.ID {
			continue // in flight
		}
		plainJobs++
		r := result(j, store.StatusSucceeded, time.Time{})
		switch plainJobs {
		case 1:
			r.Attempt.ResponseBody = []byte("thanks")
		case 2:
			r.Status, r.Attempt.StatusCode, r.Attempt.Error = store.StatusFailed, 0, "connection refused"
		case 3:
			r.Status, r.NextAttemptAt, r.Attempt.ResponseBody = store.StatusPending, t0.Add(time.Hour), []byte{}
		}
		r.Attempt.RequestHeaders = map[string]string{"Webhook-Id": j.Delivery.ID}
		results = append(results, r)
	}
	if _, err := src.CompleteAttempts(ctx, results); err != nil {
		t.Fatal(err)
	}
	gone := endpoint(t, src, "gone", nil)
	event(t, src, "gone", "any", t0)
	if err := src.DeleteEndpoint(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	if err := src.AddAudit(ctx, &store.AuditEntry{ID: store.NewID("aud"), At: t0, ActorKind: "key", ActorID: "key_1",
		Tenant: new("acme"), Action: "endpoint.delete", Target: gone.ID, RemoteAddr: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}

	// Through JSON lines, as the command line does.
	var stream []byte
	if err := src.Export(ctx, func(r store.Record) error {
		b, err := json.Marshal(r)
		stream = append(append(stream, b...), '\n')
		return err
	}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(stream))
	err = dst.Import(ctx, func(yield func(store.Record, error) bool) {
		for dec.More() {
			var r store.Record
			err := dec.Decode(&r)
			if !yield(r, err) || err != nil {
				return
			}
		}
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}

	// The same rows, up to the order of ids within a table (each database
	// sorts text its own way).
	rows := func(s store.Store) map[string][]string {
		t.Helper()
		out := map[string][]string{}
		if err := s.Export(ctx, func(r store.Record) error {
			out[r.Kind] = append(out[r.Kind], string(r.Data))
			return nil
		}); err != nil {
			t.Fatalf("Export: %v", err)
		}
		for _, v := range out {
			slices.Sort(v)
		}
		return out
	}
	want, got := rows(src), rows(dst)
	for _, kind := range store.RecordKinds {
		if len(want[kind]) == 0 {
			t.Errorf("the fixture has no %s", kind)
		}
		if !slices.Equal(got[kind], want[kind]) {
			t.Errorf("%s rows differ:\n got %s\nwant %s", kind, strings.Join(got[kind], "\n     "), strings.Join(want[kind], "\n     "))
		}
	}

	// And PostgreSQL reads them as SQLite did.
	for _, e := range []*store.Endpoint{plain, fifo, off} {
		a, errA := src.GetEndpoint(ctx, e.ID)
		b, errB := dst.GetEndpoint(ctx, e.ID)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("endpoint %s: postgres %+v, %v\nsqlite %+v, %v", e.ID, b, errB, a, errA)
		}
	}
	// The source's secrets, sealed by SQLite, open in PostgreSQL.
	if a, err := dst.SourceByName(ctx, "github"); err != nil || len(a.Secrets) != 1 || a.Secrets[0].Value != "gh-secret" ||
		a.ZoomSecret.Value != "zoom-token" || a.ID != github.ID || a.Tolerance != time.Minute || a.DedupeWindow != time.Hour {
		t.Errorf("source after import: %+v, %v", a, err)
	}
	if a, err := dst.GetEvent(ctx, ev.ID); err != nil || !bytes.Equal(a.Payload, ev.Payload) || !reflect.DeepEqual(a.Headers, ev.Headers) ||
		a.ContentType != ev.ContentType || a.IdempotencyKey != "key-1" {
		t.Errorf("event after import: %+v, %v", a, err)
	}
	for _, j := range jobs {
		a, _ := src.ListAttempts(ctx, j.Delivery.ID)
		b, err := dst.ListAttempts(ctx, j.Delivery.ID)
		for _, at := range slices.Concat(a, b) {
			if len(at.ResponseBody) == 0 {
				at.ResponseBody = nil // SQLite reads an empty body as nil
			}
		}
		if err != nil || !reflect.DeepEqual(a, b) {
			t.Errorf("attempts of %s: postgres %s, %v\nsqlite %s", j.Delivery.ID, dumpAttempts(b), err, dumpAttempts(a))
		}
	}
	// The queue carries on where SQLite left it: the FIFO head is still in
	// flight, and its successor waits for it.
	if jobs, err := dst.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0, Lease: time.Minute, Limit: 10}); err != nil || len(jobs) != 0 {
		t.Fatalf("claim in postgres while the head is in flight: %d, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if j.Endpoint.ID == fifo.ID {
			if lost, err := dst.CompleteAttempts(ctx, []store.AttemptResult{result(j, store.StatusSucceeded, time.Time{})}); err != nil || len(lost) != 0 {
				t.Fatalf("completing SQLite's claim in postgres: lost %v, %v", lost, err)
			}
		}
	}
	next, err := dst.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0, Lease: time.Minute, Limit: 10})
	if err != nil || len(next) != 1 || next[0].Endpoint.ID != fifo.ID || next[0].Event.Type != "invoice.sent" {
		t.Fatalf("claim in postgres after the head: %d, %v", len(next), err)
	}
	// A second import is refused.
	err = dst.Import(ctx, func(yield func(store.Record, error) bool) {})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("Import into the filled store = %v, want ErrConflict", err)
	}
}

func dumpAttempts(as []*store.Attempt) string {
	var out []string
	for _, a := range as {
		out = append(out, fmt.Sprintf("%+v (body nil: %v)", *a, a.ResponseBody == nil))
	}
	return strings.Join(out, "; ")
}

// TestStoreRestart runs the suite's restart tests: nodes with ids of their
// own on one schema.
func TestStoreRestart(t *testing.T) {
	t.Parallel()
	baseURL(t)
	cipher := newCipher(t)
	storetest.RunRestart(t, func(t *testing.T) func(node string) store.Store {
		dsn := freshSchema(t)
		return func(node string) store.Store {
			s, err := postgres.Open(t.Context(), dsn, &postgres.Config{Cipher: cipher, MaxConns: 4, NodeID: node})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		}
	})
}

// TestNodeIDInUse: a second live Store with the same node id is refused
// (it would take back the first one's live leases); once the first is
// closed, the id is free again.
func TestNodeIDInUse(t *testing.T) {
	t.Parallel()
	dsn := freshSchema(t)
	cipher := newCipher(t)
	cfg := &postgres.Config{Cipher: cipher, MaxConns: 2, NodeID: "node-a"}
	a, err := postgres.Open(t.Context(), dsn, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if b, err := postgres.Open(t.Context(), dsn, cfg); !errors.Is(err, postgres.ErrNodeInUse) {
		if err == nil {
			b.Close()
		}
		t.Fatalf("second Open with the same node id = %v, want ErrNodeInUse", err)
	}
	other, err := postgres.Open(t.Context(), dsn, &postgres.Config{Cipher: cipher, MaxConns: 2, NodeID: "node-b"})
	if err != nil {
		t.Fatalf("Open with another node id: %v", err)
	}
	other.Close()
	a.Close()
	again, err := postgres.Open(t.Context(), dsn, cfg)
	if err != nil {
		t.Fatalf("Open once the first Store is closed: %v", err)
	}
	again.Close()
}
