package inbound

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// TestLoad compares the gateway with a plain reverse proxy
// (httputil.ReverseProxy) in front of the same loopback destination, in the
// same run, and with requests sent straight to the destination: requests
// per second answered, and the p50 and p99 latency of the answer and of the
// arrival at the destination, also as added to the direct path. The gateway
// verifies a GitHub signature and commits each request to SQLite
// (synchronous=full: group commit, one fsync per batch) before it answers;
// the delivery engine, in the same process, forwards it. It runs only with
// HOOKRELAY_LOAD=1; HOOKRELAY_LOAD_N (requests per path, default 20000) and
// HOOKRELAY_LOAD_C (concurrent clients, default 64) adjust it.
// docs/inbound.md has results.
func TestLoad(t *testing.T) {
	if os.Getenv("HOOKRELAY_LOAD") != "1" {
		t.Skip("set HOOKRELAY_LOAD=1 to run the load test")
	}
	n := envInt(t, "HOOKRELAY_LOAD_N", 20000)
	conc := envInt(t, "HOOKRELAY_LOAD_C", 64)

	dest := &loadSink{arrived: make([]atomic.Int64, 3*n)}
	dsrv := httptest.NewServer(dest)
	defer dsrv.Close()
	du, _ := url.Parse(dsrv.URL)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(du))
	defer proxy.Close()

	st := openStore(t)
	eng, err := delivery.New(delivery.Config{Store: st, AllowPrivateNetworks: true, DisableAfter: -1, EndpointConcurrency: 64})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	defer func() { cancel(); <-done }()
	g, err := New(Config{Store: st, Notifier: eng})
	if err != nil {
		t.Fatal(err)
	}
	gmux := http.NewServeMux()
	gmux.Handle("POST /in/{source}", g)
	gsrv := httptest.NewServer(gmux)
	defer gsrv.Close()
	now := time.Now()
	src := &store.Source{ID: store.NewID("src"), Name: "load", Scheme: "github", DedupeWindow: 24 * time.Hour,
		Secrets: []store.Secret{{Value: "load-secret", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSource(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateEndpoint(ctx, &store.Endpoint{ID: store.NewID("ep"), Tenant: src.Tenant(), URL: dsrv.URL + "/hook",
		Scheme: delivery.SchemeNone, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}

	// Requests are signed up front: the client's cost is not measured.
	gh, _ := signature.Lookup("github")
	reqs := make([]loadRequest, 3*n)
	for i := range reqs {
		body := fmt.Appendf(nil, `{"ref":"refs/heads/main","after":"%040d","repository":{"id":%d,"full_name":"acme/app","private":true},`+
			`"pusher":{"name":"octocat","email":"octocat@example.com"},"commits":[{"id":"%040d","message":"Fix the thing\n\nLonger text, é 日本","timestamp":"2026-01-02T15:04:05Z","added":[],"removed":[],"modified":["main.go","README.md"]}],"pad":"%0300d"}`,
			i, i, i, 0)
		sig, err := gh.Sign(signature.Message{ID: fmt.Sprint("load-", i), Payload: body}, "load-secret")
		if err != nil {
			t.Fatal(err)
		}
		sig.Header.Set("X-GitHub-Event", "push")
		sig.Header.Set("X-Load-Seq", strconv.Itoa(i))
		sig.Header.Set("Content-Type", "application/json")
		reqs[i] = loadRequest{body: body, header: sig.Header}
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}}
	paths := []struct {
		name, url string
		reqs      []loadRequest
	}{
		{"direct", dsrv.URL + "/hook", reqs[:n]},
		{"ReverseProxy", proxy.URL + "/hook", reqs[n : 2*n]},
		{"gateway", gsrv.URL + "/in/load", reqs[2*n:]},
	}
	results := make([]loadResult, len(paths))
	for i, p := range paths {
		// Warm up connections and caches.
		run(t, client, p.url, p.reqs[:min(200, len(p.reqs))], conc, nil)
		offset := i * n
		res := run(t, client, p.url, p.reqs[200:], conc, func(seq int) int64 { return dest.arrived[offset+seq+200].Load() })
		res.name = p.name
		results[i] = res
	}
	// Arrival times of the gateway's requests come when the engine has
	// forwarded them all.
	deadline := time.Now().Add(5 * time.Minute)
	for dest.count.Load() < int64(3*n) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := dest.count.Load(); got != int64(3*n) {
		t.Fatalf("destination received %d requests, want %d", got, 3*n)
	}
	if d := dest.dup.Load(); d != 0 {
		t.Errorf("%d requests arrived twice", d)
	}
	for i := range results {
		results[i].finish()
	}
	direct := results[0]
	var report bytes.Buffer
	fmt.Fprintf(&report, "load: %d requests per path, %d concurrent clients, GOMAXPROCS=%d\n", n-200, conc, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&report, "%-13s %10s %9s %9s %9s %9s %12s %12s\n", "path", "req/s", "ans p50", "ans p99", "arr p50", "arr p99", "+ans p99", "+arr p99")
	for _, r := range results {
		fmt.Fprintf(&report, "%-13s %10.0f %9s %9s %9s %9s %12s %12s\n", r.name, r.rate,
			ms(r.answer[50]), ms(r.answer[99]), ms(r.arrival[50]), ms(r.arrival[99]),
			ms(r.answer[99]-direct.answer[99]), ms(r.arrival[99]-direct.arrival[99]))
	}
	gw := results[2]
	fmt.Fprintf(&report, "gateway: all forwarded %.0f req/s (from the first request to the last arrival)\n", gw.delivered)
	t.Log("\n" + report.String())
	fmt.Print(report.String())
}

type loadRequest struct {
	body   []byte
	header http.Header
}

// loadResult is what one path measured.
type loadResult struct {
	name      string
	rate      float64 // answers per second
	delivered float64 // arrivals per second, first send to last arrival
	answer    map[int]time.Duration
	arrival   map[int]time.Duration

	start    time.Time
	sent     []int64 // per request, Unix nanoseconds
	arrived  func(i int) int64
	answers  []time.Duration
	finished time.Time
}

// finish computes the arrival latencies, once every request has arrived.
func (r *loadResult) finish() {
	arr := make([]time.Duration, len(r.sent))
	var last int64
	for i, s := range r.sent {
		a := r.arrived(i)
		arr[i] = time.Duration(a - s)
		last = max(last, a)
	}
	r.arrival = percentiles(arr)
	r.delivered = float64(len(r.sent)) / time.Duration(last-r.start.UnixNano()).Seconds()
}

func percentiles(ds []time.Duration) map[int]time.Duration {
	slices.Sort(ds)
	out := map[int]time.Duration{}
	for _, p := range []int{50, 99} {
		out[p] = ds[min(len(ds)-1, len(ds)*p/100)]
	}
	return out
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

// run sends reqs to url from conc clients and measures the answers; arrived
// (nil for a warm-up) tells when request i reached the destination.
func run(t *testing.T, client *http.Client, url string, reqs []loadRequest, conc int, arrived func(i int) int64) loadResult {
	t.Helper()
	res := loadResult{sent: make([]int64, len(reqs)), answers: make([]time.Duration, len(reqs)), arrived: arrived}
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	res.start = time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				req, err := http.NewRequest("POST", url, bytes.NewReader(reqs[i].body))
				if err != nil {
					panic(err)
				}
				req.Header = reqs[i].header.Clone()
				start := time.Now()
				res.sent[i] = start.UnixNano()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				res.answers[i] = time.Since(start)
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.finished = time.Now()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%s: %d requests failed", url, f)
	}
	res.rate = float64(len(reqs)) / res.finished.Sub(res.start).Seconds()
	res.answer = percentiles(slices.Clone(res.answers))
	return res
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}

// loadSink answers 204 at once and records when each request (by its
// X-Load-Seq) first arrived.
type loadSink struct {
	arrived []atomic.Int64 // Unix nanoseconds, 0 until it arrives
	count   atomic.Int64
	dup     atomic.Int64
}

func (s *loadSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	at := time.Now().UnixNano()
	if i, err := strconv.Atoi(r.Header.Get("X-Load-Seq")); err == nil && i >= 0 && i < len(s.arrived) {
		if !s.arrived[i].CompareAndSwap(0, at) {
			s.dup.Add(1)
		}
	}
	s.count.Add(1)
	w.WriteHeader(http.StatusNoContent)
}
