package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// postgresURL returns the server of the PostgreSQL tests. Without
// HOOKRELAY_TEST_POSTGRES_URL the test is skipped, except in CI, where
// skipping would hide it.
func postgresURL(t *testing.T) string {
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

// freshDatabase creates a database for t on the test server, dropped when
// t ends, and returns its URL.
func freshDatabase(t *testing.T, ctx context.Context, prefix string) string {
	t.Helper()
	u, drop, err := createDatabase(ctx, postgresURL(t), prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return u
}

// TestMultiNode runs three serve processes on one PostgreSQL database,
// sends events at load round-robin to their APIs, kills the leader with
// SIGKILL midway and keeps sending to the two others. Every event that got
// a 202 must reach the receiver (duplicates are allowed, at least once, and
// reported); every node must have delivered some before the kill; and a
// survivor must take over the leadership.
func TestMultiNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three services on PostgreSQL")
	}
	postgresURL(t)
	exe := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := freshDatabase(t, ctx, "hookrelay_multinode")
	e := &env{stderr: &syncBuffer{}}

	sink := newBenchSink()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sink}
	go srv.Serve(ln)
	defer srv.Close()
	sinkURL := "http://" + ln.Addr().String() + "/hook"

	// The nodes share the database and the keys, as the nodes of one
	// installation must, and start at once (migrations and the admin key
	// must cope). A short request timeout, and as short a bound on
	// endpoints' own timeouts, make the lease (the longer of the two plus
	// 30s), and so the takeover of the killed node's claims, about 32s.
	shared := sharedNodeEnv()
	dir := t.TempDir()
	nodes := make([]*service, 3)
	var startWG sync.WaitGroup
	startErrs := make([]error, 3)
	for i := range nodes {
		startWG.Go(func() {
			nodes[i], startErrs[i] = startServiceConfig(ctx, e, exe, serviceConfig{
				Dir:      filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
				Database: dbURL,
				AdminKey: shared.adminKey,
				Env:      shared.env,
				Args:     []string{"--retry-schedule", "200ms,500ms,1s,2s", "--request-timeout", "2s", "--max-endpoint-timeout", "2s"},
			})
		})
	}
	startWG.Wait()
	for i, s := range nodes {
		if s != nil {
			defer s.stop()
		}
		if startErrs[i] != nil {
			t.Fatalf("start node %d: %v (stderr: %s)", i+1, startErrs[i], e.stderr)
		}
	}
	api := &benchAPI{base: nodes[0].url, key: shared.adminKey, client: &http.Client{Timeout: 10 * time.Second}}
	if _, err := api.post(ctx, "/api/v1/endpoints", fmt.Sprintf(`{"url":%q,"scheme":"standard"}`, sinkURL)); err != nil {
		t.Fatal(err)
	}

	// The leader: exactly one node.
	leaderIdx := waitForLeader(t, ctx, nodes, nil)

	// Send from 16 clients, round-robin over the nodes that are up.
	var alive atomic.Pointer[[]string]
	up := []string{nodes[0].url, nodes[1].url, nodes[2].url}
	alive.Store(&up)
	var accepted sync.Map
	var nAccepted, next atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	body := fmt.Sprintf(`{"type":"invoice.paid","payload":%s}`, benchPayload(1024))
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				bases := *alive.Load()
				b, err := api.postTo(ctx, bases[next.Add(1)%int64(len(bases))], "/api/v1/events", body)
				if err != nil {
					continue // not accepted
				}
				id := eventID(b)
				if id == "" {
					t.Errorf("202 without an id: %s", b)
					return
				}
				accepted.Store(id, true)
				nAccepted.Add(1)
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// Kill the leader once every node has delivered some.
	before := make([]int64, len(nodes))
	for {
		for i, s := range nodes {
			if before[i], err = deliveredBy(ctx, s.url); err != nil {
				t.Fatal(err)
			}
		}
		if nAccepted.Load() >= 1500 && min(before[0], before[1], before[2]) >= 100 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("timed out before the kill: accepted %d, delivered per node %v", nAccepted.Load(), before)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var survivors []*service
	for i, s := range nodes {
		if i != leaderIdx {
			survivors = append(survivors, s)
		}
	}
	rest := []string{survivors[0].url, survivors[1].url}
	alive.Store(&rest)
	if err := nodes[leaderIdx].cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-nodes[leaderIdx].done
	killedAt := time.Now()
	atKill := nAccepted.Load()
	t.Logf("killed node %d (the leader) with %d events accepted, %d delivered; delivered per node so far %v",
		leaderIdx+1, atKill, sink.count.Load(), before)

	// Keep sending to the survivors for a while.
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	total := nAccepted.Load()

	// Everything accepted arrives: the killed node's claims once their
	// leases run out.
	var missing []string
	deadline := time.Now().Add(75 * time.Second)
	for {
		missing = missing[:0]
		sink.mu.Lock()
		accepted.Range(func(k, _ any) bool {
			if _, ok := sink.first[k.(string)]; !ok {
				missing = append(missing, k.(string))
			}
			return true
		})
		sink.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d accepted events never delivered, e.g. %v", len(missing), total, missing[:min(5, len(missing))])
	}
	allDelivered := time.Since(killedAt)
	// Duplicates come from the killed node's claims whose request was made
	// but not recorded: they are attempted again once their leases run
	// out. Wait for the queue to drain to count them.
	for {
		pending, err := metricSum(ctx, survivors[0].url, "hookrelay_queue_pending", "")
		if err != nil {
			t.Fatal(err)
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v deliveries still pending 75s after the kill", pending)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // let the sink count the last ones
	after := make([]int64, len(survivors))
	for i, s := range survivors {
		if after[i], err = deliveredBy(ctx, s.url); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("all %d accepted events delivered (%d accepted after the kill), the last %v after the kill; "+
		"queue drained %v after the kill; %d duplicates; "+
		"successful deliveries per node before the kill %v, survivors' at the end %v",
		total, total-atKill, allDelivered.Round(100*time.Millisecond), time.Since(killedAt).Round(100*time.Millisecond),
		sink.duplicates(), before, after)

	// A survivor took over the leadership.
	waitForLeader(t, ctx, survivors, &killedAt)
	if t.Failed() {
		t.Logf("serve stderr:\n%s", e.stderr)
	}
}

// waitForLeader waits until exactly one of nodes reports hookrelay_leader
// 1 and returns its index. Nodes campaign every 15s.
func waitForLeader(t *testing.T, ctx context.Context, nodes []*service, since *time.Time) int {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	var got []float64
	for time.Now().Before(deadline) {
		got = got[:0]
		leader, n := -1, 0
		for i, s := range nodes {
			v, err := metricSum(ctx, s.url, "hookrelay_leader", "")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
			if v == 1 {
				leader, n = i, n+1
			}
		}
		if n > 1 {
			t.Fatalf("%d leaders at once: %v", n, got)
		}
		if n == 1 {
			if since != nil {
				t.Logf("node at %s leads (checked %v after the kill)", nodes[leader].url, time.Since(*since).Round(time.Second))
			}
			return leader
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no leader among %d nodes within 40s: hookrelay_leader %v", len(nodes), got)
	return -1
}

// limitReceiver answers after a delay and records, per webhook-id, the
// first arrival, and the most requests it had in flight at once.
type limitReceiver struct {
	delay          time.Duration
	inflight, most atomic.Int32
	mu             sync.Mutex
	first          map[string]time.Time
}

func (r *limitReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	n := r.inflight.Add(1)
	defer r.inflight.Add(-1)
	for m := r.most.Load(); n > m && !r.most.CompareAndSwap(m, n); m = r.most.Load() {
	}
	r.mu.Lock()
	if id := req.Header.Get("webhook-id"); id != "" {
		if _, ok := r.first[id]; !ok {
			r.first[id] = time.Now()
		}
	}
	r.mu.Unlock()
	time.Sleep(r.delay)
	w.WriteHeader(http.StatusNoContent)
}

// arrivals returns the first arrival of each message, in order.
func (r *limitReceiver) arrivals() []time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Time
	for _, at := range r.first {
		out = append(out, at)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// TestMultiNodeLimits runs three serve processes on one PostgreSQL
// database with --endpoint-concurrency 2 and sends events, round-robin over
// the nodes, to a slow endpoint and to one limited to 10 deliveries a
// second: the slow one never has more than 2 requests in flight from the
// three nodes together, and the limited one gets no more than its rate
// from the three together.
func TestMultiNodeLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three services on PostgreSQL")
	}
	postgresURL(t)
	exe := buildBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := freshDatabase(t, ctx, "hookrelay_limits")
	e := &env{stderr: &syncBuffer{}}

	const (
		concurrency = 2
		rate        = 10.0 // deliveries a second; a bucket of 1
		nSlow       = 60
		nLimited    = 40
	)
	slow := &limitReceiver{delay: 100 * time.Millisecond, first: map[string]time.Time{}}
	limited := &limitReceiver{first: map[string]time.Time{}}
	slowSrv, limitedSrv := httptest.NewServer(slow), httptest.NewServer(limited)
	defer slowSrv.Close()
	defer limitedSrv.Close()

	shared := sharedNodeEnv()
	dir := t.TempDir()
	nodes := make([]*service, 3)
	for i := range nodes {
		s, err := startServiceConfig(ctx, e, exe, serviceConfig{
			Dir:      filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
			Database: dbURL,
			AdminKey: shared.adminKey,
			Env:      shared.env,
			Args:     []string{"--endpoint-concurrency", fmt.Sprint(concurrency), "--retry-schedule", "200ms,500ms,1s"},
		})
		if err != nil {
			t.Fatalf("start node %d: %v (stderr: %s)", i+1, err, e.stderr)
		}
		defer s.stop()
		nodes[i] = s
	}
	api := &benchAPI{base: nodes[0].url, key: shared.adminKey, client: &http.Client{Timeout: 10 * time.Second}}
	for _, body := range []string{
		fmt.Sprintf(`{"url":%q,"scheme":"standard","event_types":["slow"]}`, slowSrv.URL+"/hook"),
		fmt.Sprintf(`{"url":%q,"scheme":"standard","event_types":["limited"],"rate_limit":%v}`, limitedSrv.URL+"/hook", rate),
	} {
		if _, err := api.post(ctx, "/api/v1/endpoints", body); err != nil {
			t.Fatal(err)
		}
	}
	if b := store.RateBurst(rate); b != 1 {
		t.Fatalf("RateBurst(%v) = %v: the bounds below assume 1", rate, b)
	}

	// Events arrive faster than the endpoints may take them, at every
	// node in turn, so that every node keeps claiming.
	start := time.Now()
	var wg sync.WaitGroup
	for i := range nSlow + nLimited {
		typ := "slow"
		if i%5 >= 3 {
			typ = "limited"
		}
		wg.Go(func() {
			body := fmt.Sprintf(`{"type":%q,"payload":{"i":%d}}`, typ, i)
			if _, err := api.postTo(ctx, nodes[i%len(nodes)].url, "/api/v1/events", body); err != nil {
				t.Errorf("event %d: %v", i, err)
			}
		})
		time.Sleep(20 * time.Millisecond)
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for len(slow.arrivals()) < nSlow || len(limited.arrivals()) < nLimited {
		if ctx.Err() != nil {
			t.Fatalf("the slow endpoint got %d of %d, the limited one %d of %d", len(slow.arrivals()), nSlow, len(limited.arrivals()), nLimited)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(start)
	var per []int64
	for _, s := range nodes {
		n, err := deliveredBy(ctx, s.url)
		if err != nil {
			t.Fatal(err)
		}
		per = append(per, n)
	}

	// The limits were shared, not kept by one node taking everything.
	if busy := len(per) - countZero(per); busy < 2 {
		t.Errorf("only %d of the nodes delivered anything: %v", busy, per)
	}
	if m := slow.most.Load(); m > concurrency {
		t.Errorf("%d requests in flight at once to the slow endpoint from three nodes, want at most %d", m, concurrency)
	}
	// The shared bucket lets claims take rate*t + 1 in t seconds; a node
	// holds a claimed delivery until its own bucket has a token, at most
	// 1/rate, so sends in t seconds are at most rate*(t + 1/rate) + 1.
	at := limited.arrivals()
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > int(rate)+2 {
			t.Errorf("%d deliveries to the limited endpoint within one second from its delivery %d, limit %v/s", j-i, i, rate)
			break
		}
	}
	span := at[len(at)-1].Sub(at[0])
	if got := float64(len(at)-1) / span.Seconds(); got > rate*1.1 {
		t.Errorf("the limited endpoint got %.1f deliveries a second over %v, limit %v", got, span, rate)
	}
	t.Logf("at most %d requests in flight to the slow endpoint; the limited one got %d in %v (%.1f/s); "+
		"all delivered in %v; successful deliveries per node %v",
		slow.most.Load(), len(at), span.Round(time.Millisecond), float64(len(at)-1)/span.Seconds(), took.Round(time.Millisecond), per)
	if t.Failed() {
		t.Logf("serve stderr:\n%s", e.stderr)
	}
}

func countZero(ns []int64) int {
	n := 0
	for _, v := range ns {
		if v == 0 {
			n++
		}
	}
	return n
}
