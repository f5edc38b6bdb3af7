package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/signature"
)

// fastSchedule keeps retries within a test's patience.
var fastSchedule = []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}

// openStore opens a real SQLite store in a temporary directory.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookrelay.db"), &sqlite.Config{Cipher: box, Synchronous: "normal"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

type testBundle struct {
	store  *sqlite.Store
	engine *Engine
	cancel context.CancelFunc
	done   chan error
}

// setup opens a store and creates (but does not start) an engine on it;
// cfg's Store is filled in, and private networks are allowed unless
// denyPrivate.
func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	st := openStore(t)
	cfg.Store = st
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = fastSchedule
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 50 * time.Millisecond
	}
	if cfg.Logger == nil && testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testBundle{store: st, engine: e}
}

// start runs the engine until the test ends (or stop).
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	b.done = make(chan error, 1)
	go func() { b.done <- b.engine.Run(ctx) }()
	t.Cleanup(func() { b.stop(t) })
}

// stop cancels Run and waits for it to return.
func (b *testBundle) stop(t *testing.T) {
	t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

// endpoint creates an endpoint; mod adjusts it first.
func (b *testBundle) endpoint(t *testing.T, url, scheme string, secrets []string, mod func(*store.Endpoint)) *store.Endpoint {
	t.Helper()
	now := time.Now()
	ep := &store.Endpoint{ID: store.NewID("ep"), URL: url, Scheme: scheme, CreatedAt: now, UpdatedAt: now}
	for _, s := range secrets {
		ep.Secrets = append(ep.Secrets, store.Secret{Value: s, CreatedAt: now})
	}
	if mod != nil {
		mod(ep)
	}
	if err := b.store.CreateEndpoint(context.Background(), ep); err != nil {
		t.Fatal(err)
	}
	return ep
}

// accept stores an event, as the API does, and notifies the engine.
func (b *testBundle) accept(t *testing.T, typ, payload string) (*store.Event, []*store.Delivery) {
	t.Helper()
	ev, ds, err := b.store.CreateEvent(context.Background(), &store.Event{Type: typ, Payload: []byte(payload)}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b.engine.Notify()
	return ev, ds
}

func (b *testBundle) delivery(t *testing.T, id string) *store.Delivery {
	t.Helper()
	d, err := b.store.GetDelivery(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (b *testBundle) attempts(t *testing.T, id string) []*store.Attempt {
	t.Helper()
	as, err := b.store.ListAttempts(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return as
}

// waitStatus waits until the delivery has the status, and returns it.
func (b *testBundle) waitStatus(t *testing.T, id string, want store.DeliveryStatus, within time.Duration) *store.Delivery {
	t.Helper()
	var d *store.Delivery
	waitFor(t, within, func() bool {
		d = b.delivery(t, id)
		return d.Status == want
	}, func() string {
		return fmt.Sprintf("delivery %s is %s after %d attempts, want %s", id, d.Status, d.Attempts, want)
	})
	return d
}

func waitFor(t *testing.T, within time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// request is what a test receiver saw.
type request struct {
	at     time.Time
	header http.Header
	body   []byte
}

// receiver is an httptest server that records requests and answers with
// respond (200 if nil).
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newReceiver(t *testing.T, respond func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, request{time.Now(), r.Header.Clone(), body})
		n := len(rc.reqs)
		rc.mu.Unlock()
		if respond != nil {
			respond(w, r, n, body)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.reqs)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// operator makes url the operator endpoint, signed with secrets.
func (b *testBundle) operator(t *testing.T, url string, secrets ...string) {
	t.Helper()
	if err := SyncOperator(context.Background(), b.store, &Operator{URL: url, Secrets: secrets}, time.Now()); err != nil {
		t.Fatalf("SyncOperator: %v", err)
	}
}

// operatorSink receives operational webhooks.
type operatorSink struct {
	*receiver
}

func newOperatorSink(t *testing.T) *operatorSink { return &operatorSink{newReceiver(t, nil)} }

func (o *operatorSink) types() []string {
	var out []string
	for _, r := range o.requests() {
		var ev store.OperationalBody
		if err := json.Unmarshal(r.body, &ev); err == nil {
			out = append(out, ev.Type)
		}
	}
	return out
}

func (o *operatorSink) waitType(t *testing.T, typ string) store.OperationalBody {
	t.Helper()
	var found *store.OperationalBody
	waitFor(t, 10*time.Second, func() bool {
		for _, r := range o.requests() {
			var ev store.OperationalBody
			if json.Unmarshal(r.body, &ev) == nil && ev.Type == typ {
				found = &ev
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("no %s operational webhook; got %v", typ, o.types()) })
	return *found
}

// oracle checks a re-serializing scheme's signature the way its vendor's
// receivers do, with the vendor's own language.
func oracle(t *testing.T, scheme string, body []byte, header http.Header, secret string) {
	t.Helper()
	var cmd *exec.Cmd
	switch scheme {
	case "plextrac":
		const js = `const crypto = require("crypto");
let chunks = [];
process.stdin.on("data", c => chunks.push(c));
process.stdin.on("end", () => {
  const payload = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  const mac = crypto.createHmac("sha256", process.argv[1]).update(Buffer.from(JSON.stringify(payload))).digest("hex");
  if (mac !== process.argv[2]) { console.error("mismatch", mac, process.argv[2]); process.exit(1); }
});`
		cmd = exec.Command(lookTool(t, "node"), "-e", js, "--", secret, header.Get("X-Authorization-Hmac-256"))
	case "teak":
		const py = `import sys, json, hmac, hashlib, base64
payload = json.loads(sys.stdin.buffer.read())
mac = base64.b64encode(hmac.new(sys.argv[1].encode("utf-8"), json.dumps(payload).encode("utf-8"), hashlib.sha256).digest()).decode()
if not hmac.compare_digest(mac, sys.argv[2]):
    print("mismatch", mac, sys.argv[2], file=sys.stderr); sys.exit(1)`
		cmd = exec.Command(lookTool(t, "python3"), "-c", py, secret, header.Get("X-Protecht-Signature"))
	default:
		return
	}
	cmd.Stdin = bytes.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("%s: independent check failed: %v: %s", scheme, err, out)
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// TestEngineDeliversEveryScheme sends one event to an endpoint of each
// built-in scheme and a custom one. Each receiver verifies the signature
// with signature's Verify over the raw body, gets exactly the bytes Sign
// produces, and for plextrac and teak the signature also checks out with an
// independent Node or Python re-serialization.
func TestEngineDeliversEveryScheme(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{AllowPrivateNetworks: true})
	// Non-ASCII, a float written 1.0, key order and spacing: the JS and
	// Python forms differ from the raw text and from each other.
	const payload = `{"id": "evt_x", "type": "invoice.paid", "amount": 1.0, "name": "Zoë \u2028 <b>", "z": {"b": 2, "a": [1e2, 0.5]}}`

	custom := signature.CustomConfig{Name: "acme", Header: "X-Acme-Signature", Encoding: "base64", Prefix: "sha256=", Signed: "python-compact"}
	customJSON, err := json.Marshal(custom)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		scheme  *signature.Scheme
		secret  string
		rc      *receiver
		verifyE error
	}
	var targets []*target
	names := append(signature.Names(), "custom")
	for _, name := range names {
		var s *signature.Scheme
		if name == "custom" {
			s, err = signature.Custom(custom)
		} else {
			s, err = signature.Lookup(name)
		}
		if err != nil {
			t.Fatal(err)
		}
		secret, err := signature.GenerateSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		tg := &target{scheme: s, secret: secret}
		var mu sync.Mutex
		tg.rc = newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			err := s.Verify(r.Header, body, []string{secret}, nil)
			mu.Lock()
			tg.verifyE = err
			mu.Unlock()
			if err != nil {
				w.WriteHeader(http.StatusUnauthorized)
			}
		})
		b.endpoint(t, tg.rc.URL, name, []string{secret}, func(ep *store.Endpoint) {
			if name == "custom" {
				ep.CustomScheme = customJSON
			}
		})
		targets = append(targets, tg)
	}
	b.start(t)
	_, ds := b.accept(t, "invoice.paid", payload)
	if len(ds) != len(names) {
		t.Fatalf("%d deliveries, want %d", len(ds), len(names))
	}
	for _, d := range ds {
		b.waitStatus(t, d.ID, store.StatusSucceeded, 10*time.Second)
	}
	for _, tg := range targets {
		reqs := tg.rc.requests()
		if len(reqs) != 1 {
			t.Fatalf("%s: %d requests, want 1", tg.scheme, len(reqs))
		}
		if tg.verifyE != nil {
			t.Errorf("%s: Verify: %v", tg.scheme, tg.verifyE)
		}
		want, err := tg.scheme.Sign(signature.Message{ID: "x", Payload: []byte(payload)}, tg.secret)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reqs[0].body, want.Body) {
			t.Errorf("%s: body %q, want exactly Signed.Body %q", tg.scheme, reqs[0].body, want.Body)
		}
		if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s: Content-Type %q", tg.scheme, ct)
		}
		oracle(t, tg.scheme.Name(), reqs[0].body, reqs[0].header, tg.secret)
	}
	// The attempt keeps the headers sent, signature included.
	as := b.attempts(t, ds[0].ID)
	if len(as) != 1 || as[0].StatusCode != 200 || as[0].Number != 1 || len(as[0].RequestHeaders) < 3 {
		t.Fatalf("attempts %+v", as)
	}
	if as[0].RequestHeaders["User-Agent"] != "hookrelay" {
		t.Fatalf("request headers %v", as[0].RequestHeaders)
	}
}

// TestEngineRetries covers the retryable and final outcomes, each on its
// own endpoint of one engine.
func TestEngineRetries(t *testing.T) {
	t.Parallel()
	ops := newOperatorSink(t)
	b := setup(t, Config{
		AllowPrivateNetworks: true,
		RequestTimeout:       time.Second,
	})
	b.operator(t, ops.URL, "whsec_"+"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	// 500, 500, then 200.
	flaky := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n <= 2 {
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, strings.Repeat("e", 10<<10))
		}
	})
	// Too slow the first time: it answers only when the engine's request
	// timeout (1s) has given up on it.
	slowOnce := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n == 1 {
			<-r.Context().Done()
		}
	})
	// 429 with Retry-After: 1, then 200.
	var throttledAt atomic.Int64
	throttled := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n == 1 {
			throttledAt.Store(time.Now().UnixNano())
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	})
	// Closes the connection without answering, then 200.
	hangup := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n == 1 {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}
	})
	gone := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { w.WriteHeader(http.StatusGone) })
	bad := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { w.WriteHeader(http.StatusBadRequest) })
	always := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { w.WriteHeader(http.StatusBadGateway) })

	byURL := map[string]string{}
	for name, rc := range map[string]*receiver{"flaky": flaky, "slowOnce": slowOnce, "throttled": throttled,
		"hangup": hangup, "gone": gone, "bad": bad, "always": always} {
		ep := b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
		byURL[ep.ID] = name
	}
	b.start(t)
	_, ds := b.accept(t, "x", `{"n":1}`)
	d := map[string]*store.Delivery{}
	for _, dl := range ds {
		d[byURL[dl.EndpointID]] = dl
	}

	// 500, 500, 200: three attempts, the response bodies kept truncated.
	b.waitStatus(t, d["flaky"].ID, store.StatusSucceeded, 10*time.Second)
	as := b.attempts(t, d["flaky"].ID)
	if got := statuses(as); !slices.Equal(got, []int{500, 500, 200}) {
		t.Errorf("flaky: statuses %v", got)
	}
	if len(as[0].ResponseBody) != defaultMaxResponseBytes {
		t.Errorf("flaky: kept %d bytes of the response body, want %d", len(as[0].ResponseBody), defaultMaxResponseBytes)
	}
	if gap := as[1].StartedAt.Sub(as[0].StartedAt); gap < 40*time.Millisecond {
		t.Errorf("flaky: retried after %v, want the schedule's ~50ms", gap)
	}

	// Timeout, then success.
	b.waitStatus(t, d["slowOnce"].ID, store.StatusSucceeded, 10*time.Second)
	as = b.attempts(t, d["slowOnce"].ID)
	if len(as) != 2 || as[0].StatusCode != 0 || !strings.Contains(as[0].Error, "timeout") || as[1].StatusCode != 200 {
		t.Errorf("slowOnce: attempts %s", describe(as))
	}

	// 429 with Retry-After: 1 waits a second, though the schedule says 50ms.
	b.waitStatus(t, d["throttled"].ID, store.StatusSucceeded, 10*time.Second)
	reqs := throttled.requests()
	if len(reqs) != 2 || reqs[1].at.Sub(time.Unix(0, throttledAt.Load())) < 900*time.Millisecond {
		t.Errorf("throttled: %d requests, second %v after the 429", len(reqs), reqs[len(reqs)-1].at.Sub(time.Unix(0, throttledAt.Load())))
	}

	// A closed connection is a network error: retried.
	b.waitStatus(t, d["hangup"].ID, store.StatusSucceeded, 10*time.Second)
	as = b.attempts(t, d["hangup"].ID)
	if len(as) != 2 || as[0].StatusCode != 0 || as[0].Error == "" {
		t.Errorf("hangup: attempts %s", describe(as))
	}

	// 410 and 400 are final after one attempt; 410 says so.
	dl := b.waitStatus(t, d["gone"].ID, store.StatusFailed, 10*time.Second)
	as = b.attempts(t, d["gone"].ID)
	if len(as) != 1 || as[0].StatusCode != 410 || !strings.Contains(as[0].Error, "disabling") || dl.LastStatus != 410 {
		t.Errorf("gone: attempts %s", describe(as))
	}
	b.waitStatus(t, d["bad"].ID, store.StatusFailed, 10*time.Second)
	if as := b.attempts(t, d["bad"].ID); len(as) != 1 {
		t.Errorf("bad: attempts %s", describe(as))
	}

	// 502 forever: 1 + len(schedule) attempts, then failed, and the
	// operator hears of it.
	b.waitStatus(t, d["always"].ID, store.StatusFailed, 10*time.Second)
	if as := b.attempts(t, d["always"].ID); len(as) != len(fastSchedule)+1 {
		t.Errorf("always: %d attempts, want %d", len(as), len(fastSchedule)+1)
	}
	ev := ops.waitType(t, "delivery.exhausted")
	if ev.Data["delivery_id"] == nil {
		t.Errorf("delivery.exhausted without delivery_id: %+v", ev)
	}
	// Operational webhooks are signed with the operator scheme.
	std, _ := signature.Lookup("standard")
	for _, r := range ops.requests() {
		if err := std.Verify(r.header, r.body, []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil); err != nil {
			t.Errorf("operational webhook: %v", err)
		}
	}
}

func statuses(as []*store.Attempt) []int {
	var out []int
	for _, a := range as {
		out = append(out, a.StatusCode)
	}
	return out
}

func describe(as []*store.Attempt) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("#%d %d %q", a.Number, a.StatusCode, a.Error))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// TestEngineIsolation: an endpoint whose requests hang does not hold up
// deliveries to a healthy one, even when it has far more due deliveries
// than it has concurrency and the node has workers.
func TestEngineIsolation(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { <-release })
	fast := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true, RequestTimeout: 20 * time.Second, EndpointConcurrency: 4, Workers: 32, BatchSize: 16})
	b.endpoint(t, slow.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.EventTypes = []string{"slow"} })
	b.endpoint(t, fast.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.EventTypes = []string{"fast"} })
	// The slow endpoint's deliveries are older: oldest-due-first claiming
	// meets them first.
	for range 100 {
		b.accept(t, "slow", `{}`)
	}
	var fastIDs []string
	for range 100 {
		_, ds := b.accept(t, "fast", `{}`)
		fastIDs = append(fastIDs, ds[0].ID)
	}
	start := time.Now()
	b.start(t)
	for _, id := range fastIDs {
		b.waitStatus(t, id, store.StatusSucceeded, 5*time.Second)
	}
	took := time.Since(start)
	if n := slow.count(); n != 4 {
		t.Errorf("slow endpoint has %d requests in flight, want its concurrency limit 4", n)
	}
	if n := fast.count(); n != 100 {
		t.Errorf("fast endpoint got %d requests, want 100", n)
	}
	t.Logf("100 deliveries to the fast endpoint took %v while the slow one hung", took)
	releaseOnce.Do(func() { close(release) })
}

// TestEngineFIFO: a FIFO endpoint receives its deliveries in acceptance
// order, one at a time, even when the first one fails twice. Each request
// is held until the engine has made a whole claim pass meanwhile, so that
// an engine that would start the next one has started it. The receiver
// counts the requests it has at once itself: the engine's count includes,
// for a moment, a request whose result is already recorded.
func TestEngineFIFO(t *testing.T) {
	t.Parallel()
	var inflight, maxInflight atomic.Int32
	var passes *passWatch
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		c := inflight.Add(1)
		defer inflight.Add(-1)
		for m := maxInflight.Load(); c > m && !maxInflight.CompareAndSwap(m, c); m = maxInflight.Load() {
		}
		if err := passes.waitAnother(); err != nil {
			t.Error(err)
		}
		if n <= 2 { // the head fails twice
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	b := setup(t, Config{AllowPrivateNetworks: true})
	passes = watchPasses(b.engine)
	b.endpoint(t, rc.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.FIFO = true })
	const n = 20
	var last string
	for i := range n {
		_, ds := b.accept(t, "x", fmt.Sprintf(`{"seq":%d}`, i))
		last = ds[0].ID
	}
	b.start(t)
	b.waitStatus(t, last, store.StatusSucceeded, 15*time.Second)
	var got []int
	for _, r := range rc.requests() {
		var v struct{ Seq int }
		json.Unmarshal(r.body, &v)
		got = append(got, v.Seq)
	}
	want := []int{0, 0}
	for i := range n {
		want = append(want, i)
	}
	if !slices.Equal(got, want) {
		t.Errorf("order received %v, want %v", got, want)
	}
	if m := maxInflight.Load(); m != 1 {
		t.Errorf("%d requests in flight at once to a FIFO endpoint", m)
	}
}

// TestEngineRateLimit: an endpoint limited to 20 deliveries a second gets
// one token each 1/20 s of the engine's clock, and no more (its bucket holds
// one); an unlimited endpoint does not wait for it. The clock is a fake that
// moves only when the test says, so each step checks exactly what the engine
// decided at that time, whatever the machine's load.
func TestEngineRateLimit(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	free := newReceiver(t, nil)
	clk := newFakeClock(time.Time{}) // set once the deliveries exist
	b := setup(t, Config{AllowPrivateNetworks: true, Now: clk.now})
	b.endpoint(t, rc.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.RateLimit = 20 })
	b.endpoint(t, free.URL, "github", []string{"s"}, nil)
	const n = 40
	for i := range n {
		b.accept(t, "x", fmt.Sprintf(`{"i":%d}`, i))
	}
	clk.set(time.Now())
	passes := watchPasses(b.engine)
	// settled waits until the engine has looked at the clock's time and
	// what it started has been recorded, and says how many requests the
	// limited endpoint got.
	settled := func() int {
		t.Helper()
		passes.lookedAt(t, clk.now())
		passes.another(t)
		waitFor(t, 10*time.Second, func() bool {
			inflight, _ := b.engine.counts()
			return inflight == 0 && b.engine.recorded.Load() == int64(rc.count()+free.count())
		}, func() string { return "requests still in flight" })
		return rc.count()
	}
	b.start(t)
	// The clock stands still: the free endpoint gets everything, the
	// limited one its one token.
	waitFor(t, 10*time.Second, func() bool { return free.count() == n },
		func() string { return fmt.Sprintf("the unlimited endpoint got %d of %d", free.count(), n) })
	if got := settled(); got != 1 {
		t.Fatalf("the limited endpoint got %d requests at one instant, want its burst of 1", got)
	}
	// Each 1/20 s (and a little: no rounding may leave the token short)
	// lets exactly one more through.
	const step = time.Second/20 + time.Millisecond
	for want := 2; want <= n; want++ {
		clk.advance(step)
		waitFor(t, 10*time.Second, func() bool { return rc.count() >= want },
			func() string { return fmt.Sprintf("after %d steps the limited endpoint got %d", want-1, rc.count()) })
		if got := settled(); got != want {
			t.Fatalf("after %d steps of %v the limited endpoint got %d requests, want %d", want-1, step, got, want)
		}
	}
}

// TestEngineAutoDisable: an endpoint failing for longer than DisableAfter
// is disabled, with the reason recorded, and the operator is told.
func TestEngineAutoDisable(t *testing.T) {
	t.Parallel()
	ops := newOperatorSink(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { w.WriteHeader(500) })
	b := setup(t, Config{
		AllowPrivateNetworks: true,
		DisableAfter:         300 * time.Millisecond,
		RetrySchedule:        slices.Repeat([]time.Duration{50 * time.Millisecond}, 100),
	})
	b.operator(t, ops.URL)
	ep := b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	passes := watchPasses(b.engine)
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	var got *store.Endpoint
	waitFor(t, 10*time.Second, func() bool {
		var err error
		got, err = b.store.GetEndpoint(context.Background(), ep.ID)
		return err == nil && got.Disabled
	}, func() string { return "endpoint not disabled" })
	if !strings.HasPrefix(got.DisabledReason, "auto: failing since") {
		t.Errorf("reason %q", got.DisabledReason)
	}
	ev := ops.waitType(t, "endpoint.disabled")
	if ev.Data["endpoint_id"] != ep.ID {
		t.Errorf("endpoint.disabled data %v", ev.Data)
	}
	// Deliveries stop: nothing is claimed for a disabled endpoint. Once
	// what was under way when it was disabled is recorded, the engine
	// looks again when the retry is due, and sends nothing.
	passes.lookedAt(t, time.Now())
	waitFor(t, 10*time.Second, func() bool {
		inflight, _ := b.engine.counts()
		return inflight == 0 && b.engine.recorded.Load() == int64(rc.count()+ops.count()) // the operator's attempts too
	}, func() string { return "the attempt under way when the endpoint was disabled was not recorded" })
	n := rc.count()
	d := b.delivery(t, ds[0].ID)
	if d.Status != store.StatusPending {
		t.Fatalf("delivery to the disabled endpoint is %s, want pending", d.Status)
	}
	passes.lookedAt(t, d.NextAttemptAt)
	if inflight, _ := b.engine.counts(); inflight != 0 || rc.count() != n {
		t.Errorf("%d more requests (%d in flight) after disabling", rc.count()-n, inflight)
	}
}

// TestEngineRecovered: the first success after failures is reported.
func TestEngineRecovered(t *testing.T) {
	t.Parallel()
	ops := newOperatorSink(t)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n <= 2 {
			w.WriteHeader(503)
		}
	})
	b := setup(t, Config{AllowPrivateNetworks: true})
	b.operator(t, ops.URL)
	ep := b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	// The first failure's FailingSince is on the endpoint when the retry is
	// claimed; the success clears it and reports the recovery.
	ev := ops.waitType(t, "delivery.recovered")
	if ev.Data["endpoint_id"] != ep.ID || ev.Data["delivery_id"] != ds[0].ID {
		t.Errorf("delivery.recovered data %v", ev.Data)
	}
	got, err := b.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil || got.FailingSince != nil {
		t.Errorf("endpoint after recovery: %+v, %v", got, err)
	}
}

// TestEngineGracefulShutdown: requests in flight when Run's context ends
// finish within the grace period and are recorded; those that outlast it
// are aborted, recorded as such and due again at once.
func TestEngineGracefulShutdown(t *testing.T) {
	t.Parallel()
	t.Run("finishes in-flight", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
			arrived <- struct{}{}
			<-release
		})
		b := setup(t, Config{AllowPrivateNetworks: true, ShutdownGrace: time.Minute})
		b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
		b.start(t)
		_, ds := b.accept(t, "x", `{}`)
		<-arrived
		// Shutting down, with the request held: Run waits for it.
		b.cancel()
		waitFor(t, 10*time.Second, b.engine.isStopping, func() string { return "the engine did not begin to shut down" })
		select {
		case err := <-b.done:
			t.Fatalf("Run returned (%v) with a request in flight", err)
		default:
		}
		close(release)
		b.done <- <-b.done // b.stop waits for it again
		b.stop(t)
		// Recorded before Run returned.
		d := b.delivery(t, ds[0].ID)
		if d.Status != store.StatusSucceeded || d.Attempts != 1 {
			t.Errorf("after shutdown: %s, %d attempts", d.Status, d.Attempts)
		}
	})
	t.Run("aborts after grace", func(t *testing.T) {
		t.Parallel()
		arrived := make(chan struct{}, 1)
		release := make(chan struct{})
		rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		t.Cleanup(func() { close(release) })
		b := setup(t, Config{AllowPrivateNetworks: true, ShutdownGrace: 200 * time.Millisecond, RequestTimeout: 10 * time.Second})
		b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
		b.start(t)
		_, ds := b.accept(t, "x", `{}`)
		<-arrived
		start := time.Now()
		b.stop(t)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Run took %v to return with a 200ms grace", took)
		}
		d := b.delivery(t, ds[0].ID)
		as := b.attempts(t, ds[0].ID)
		if d.Status != store.StatusPending || len(as) != 1 || !strings.Contains(as[0].Error, "aborted") {
			t.Fatalf("after shutdown: %s, attempts %s", d.Status, describe(as))
		}
		if d.NextAttemptAt.After(time.Now()) {
			t.Errorf("aborted delivery due at %v, want now", d.NextAttemptAt)
		}
	})
}

// TestEngineLeaseExpiry: a worker that claimed a delivery and died never
// completes it; once its lease runs out another engine delivers it, and the
// dead worker's late result is refused. The engine runs on a fake clock, so
// "before the lease runs out" is exact, not a wall-clock margin (which
// failed once on a busy machine).
func TestEngineLeaseExpiry(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	clk := newFakeClock(time.Time{}) // set once the delivery exists
	b := setup(t, Config{AllowPrivateNetworks: true, Now: clk.now})
	b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	_, ds := b.accept(t, "x", `{}`)
	// The engine starts before the delivery is due on its clock, so that
	// the dead claim below is another worker's, made while this engine
	// runs: not one of an earlier run, which Run would release at start.
	claimedAt := ds[0].NextAttemptAt
	clk.set(claimedAt.Add(-time.Second))
	passes := watchPasses(b.engine)
	b.start(t)
	passes.lookedAt(t, clk.now())
	// The "dead worker" claims it with a short lease and then does nothing.
	const lease = 500 * time.Millisecond
	jobs, err := b.store.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: claimedAt, Lease: lease, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	// Just before the lease runs out, the engine looks and leaves it.
	clk.set(claimedAt.Add(lease - time.Millisecond))
	b.engine.Notify()
	passes.lookedAt(t, clk.now())
	if inflight, _ := b.engine.counts(); inflight != 0 || rc.count() != 0 {
		t.Fatalf("%d requests, %d in flight, before the dead claim's lease ran out", rc.count(), inflight)
	}
	clk.advance(2 * time.Millisecond)
	b.engine.Notify()
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	if reqs := rc.requests(); len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	as := b.attempts(t, ds[0].ID)
	if len(as) != 1 || as[0].Number != 1 {
		t.Errorf("attempts %s", describe(as))
	}
	lost, err := b.store.CompleteAttempts(context.Background(), []store.AttemptResult{{
		DeliveryID: ds[0].ID, Claim: jobs[0].Delivery.Claim, Status: store.StatusFailed,
		Attempt: store.Attempt{StartedAt: claimedAt, URL: rc.URL, Trigger: "scheduled"},
	}})
	if err != nil || !slices.Equal(lost, []int{0}) {
		t.Errorf("late completion of the dead claim: lost %v, %v; want [0]", lost, err)
	}
}

// TestEngineReleasesEarlierLeases: deliveries an earlier run left leased
// (claimed, or handed over at creation, and then the process was killed)
// are sent as soon as the engine starts, not when their leases run out;
// the dead claim's late result is lost.
func TestEngineReleasesEarlierLeases(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	clk := newFakeClock(time.Time{})
	b := setup(t, Config{AllowPrivateNetworks: true, Now: clk.now})
	b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	_, ds := b.accept(t, "x", `{}`)
	claimedAt := ds[0].NextAttemptAt
	jobs, err := b.store.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: claimedAt, Lease: time.Hour, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	// The clock does not move: only the release can make it due.
	clk.set(claimedAt.Add(time.Second))
	b.start(t)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	if n := rc.count(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
	err = store.CompleteAttempt(context.Background(), b.store, store.AttemptResult{
		DeliveryID: ds[0].ID, Claim: jobs[0].Delivery.Claim, Status: store.StatusFailed,
		Attempt: store.Attempt{StartedAt: claimedAt, URL: rc.URL, Trigger: "scheduled"},
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("late completion of the dead claim = %v, want ErrLeaseLost", err)
	}
	if as := b.attempts(t, ds[0].ID); len(as) != 1 || as[0].StatusCode != 200 {
		t.Errorf("attempts %s", describe(as))
	}
}

// TestEngineRefusesPrivateAtConnect: without AllowPrivateNetworks, an
// endpoint that points at loopback (however it got created) is never
// reached; the attempt fails with the forbidden-address error.
func TestEngineRefusesPrivateAtConnect(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: false})
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	b.endpoint(t, "http://localhost:"+port+"/hook", "github", []string{"s"}, nil)
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	b.waitStatus(t, ds[0].ID, store.StatusFailed, 10*time.Second)
	as := b.attempts(t, ds[0].ID)
	if len(as) != 1 || !strings.Contains(as[0].Error, ErrForbiddenAddress.Error()) {
		t.Errorf("attempts %s", describe(as))
	}
	if rc.count() != 0 {
		t.Error("a forbidden address was reached")
	}
}

// TestEngineMetrics checks the metric names and that the queue gauges come
// from the store at scrape time.
func TestEngineMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	rc := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true, Registerer: reg})
	b.endpoint(t, rc.URL, "shopify", []string{"s"}, nil)
	// Due but not yet delivered: the queue gauges see it.
	b.accept(t, "x", `{}`)
	var got map[string]float64
	waitFor(t, 5*time.Second, func() bool {
		got = gather(t, reg)
		return got["hookrelay_queue_oldest_due_age_seconds"] > 0
	}, func() string { return fmt.Sprintf("the oldest due delivery never aged: %v", got) })
	if got["hookrelay_queue_pending"] != 1 || got["hookrelay_queue_due"] != 1 {
		t.Errorf("queue gauges before running: %v", got)
	}
	b.start(t)
	_, ds := b.accept(t, "x", `{}`)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 5*time.Second)
	waitFor(t, 5*time.Second, func() bool {
		got = gather(t, reg)
		return got[`hookrelay_deliveries_total{outcome="success",scheme="shopify"}`] == 2
	}, func() string { return fmt.Sprintf("metrics %v", got) })
	for _, name := range []string{"hookrelay_attempt_duration_seconds_count", "hookrelay_inflight", "hookrelay_endpoints_disabled", "hookrelay_queue_pending"} {
		if _, ok := got[name]; !ok {
			t.Errorf("metric %s missing: %v", name, got)
		}
	}
	if got["hookrelay_attempt_duration_seconds_count"] != 2 || got["hookrelay_queue_pending"] != 0 {
		t.Errorf("after delivering: %v", got)
	}
	// A second engine on the same registerer is refused.
	if _, err := New(Config{Store: b.store, Registerer: reg}); err == nil {
		t.Error("registering the metrics twice succeeded")
	}
}

// gather flattens the registry into "name{labels}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func TestNewValidates(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for name, cfg := range map[string]Config{
		"no store":         {},
		"negative workers": {Store: st, Workers: -1},
		"short lease":      {Store: st, RequestTimeout: time.Second, Lease: time.Second},
		"negative delay":   {Store: st, RetrySchedule: []time.Duration{-time.Second}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	e, err := New(Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	waitFor(t, 10*time.Second, e.running.Load, func() string { return "Run did not start" })
	if err := e.Run(ctx); err == nil {
		t.Error("second concurrent Run succeeded")
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Error(err)
	}
}

// TestEngineNotify: Notify wakes an idle engine at once, whatever the poll
// interval.
func TestEngineNotify(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true, PollInterval: time.Hour})
	b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	passes := watchPasses(b.engine)
	b.start(t)
	// Past the first, empty, claim, the engine waits for the hour-long
	// poll: only Notify (or the store's hand-over) can get these out
	// within the test's patience.
	passes.until(t, "first claim pass", func(n int, _ time.Time) bool { return n >= 1 })
	for range 3 {
		_, ds := b.accept(t, "x", `{}`)
		b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	}
}

// TestSchemeCache: a custom scheme is parsed once per endpoint version and
// re-read when the endpoint changes.
func TestSchemeCache(t *testing.T) {
	t.Parallel()
	var c schemeCache
	cfgJSON := func(header string) []byte {
		b, err := json.Marshal(signature.CustomConfig{Name: "acme", Header: header})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t0 := time.Now()
	ep := &store.Endpoint{ID: "ep_1", Scheme: "custom", CustomScheme: cfgJSON("X-One"), UpdatedAt: t0}
	s1, err := c.get(ep)
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := c.get(ep); s2 != s1 {
		t.Error("same endpoint version parsed twice")
	}
	ep2 := *ep
	ep2.CustomScheme, ep2.UpdatedAt = cfgJSON("X-Two"), t0.Add(time.Second)
	s3, err := c.get(&ep2)
	if err != nil || s3 == s1 || !slices.Contains(s3.Headers(), "X-Two") {
		t.Fatalf("updated endpoint: %v %v", s3, err)
	}
	bad := &store.Endpoint{ID: "ep_2", Scheme: "custom", CustomScheme: []byte(`{`), UpdatedAt: t0}
	if _, err := c.get(bad); err == nil {
		t.Error("broken custom scheme accepted")
	}
	if _, err := c.get(&store.Endpoint{ID: "ep_3", Scheme: "nope"}); !errors.Is(err, signature.ErrUnknownScheme) {
		t.Errorf("unknown built-in: %v", err)
	}
	if s, err := c.get(&store.Endpoint{ID: "ep_4", Scheme: "github"}); err != nil || s.Name() != "github" {
		t.Errorf("built-in: %v %v", s, err)
	}
}

// TestEngineSignError: a delivery that cannot be signed (here a payload
// that is not JSON for a scheme that re-serializes it) fails at once
// without a request.
func TestEngineSignError(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true})
	b.endpoint(t, rc.URL, "plextrac", []string{"s"}, nil)
	b.start(t)
	_, ds := b.accept(t, "x", `not json`)
	b.waitStatus(t, ds[0].ID, store.StatusFailed, 5*time.Second)
	as := b.attempts(t, ds[0].ID)
	if len(as) != 1 || !strings.HasPrefix(as[0].Error, "sign:") || as[0].StatusCode != 0 {
		t.Errorf("attempts %s", describe(as))
	}
	if rc.count() != 0 {
		t.Error("an unsigned request was sent")
	}
}

// TestEngineDispatchAtCreation: with the engine running, a fresh delivery
// is attempted straight from CreateEvent (store.Capabilities.SetDispatcher), without a
// Notify or a poll; an endpoint at its concurrency limit is not handed
// more than it can hold, and does not hold up the others.
func TestEngineDispatchAtCreation(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	slow := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) { <-release })
	fast := newReceiver(t, nil)
	b := setup(t, Config{AllowPrivateNetworks: true, PollInterval: time.Hour, RequestTimeout: 20 * time.Second,
		EndpointConcurrency: 4, Workers: 64, BatchSize: 16})
	b.endpoint(t, slow.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.EventTypes = []string{"slow"} })
	b.endpoint(t, fast.URL, "github", []string{"s"}, func(ep *store.Endpoint) { ep.EventTypes = []string{"fast"} })
	b.start(t)
	waitFor(t, 5*time.Second, func() bool { return b.store.Dispatching() }, func() string { return "engine never set itself as the dispatcher" })

	create := func(typ string) *store.Delivery {
		t.Helper()
		_, ds, err := b.store.CreateEvent(context.Background(), &store.Event{Type: typ, Payload: []byte(`{}`)}, time.Time{})
		if err != nil || len(ds) != 1 {
			t.Fatalf("create event: %d deliveries, %v", len(ds), err)
		}
		return ds[0]
	}
	var slowClaimed int
	for range 40 {
		if create("slow").Claim > 0 {
			slowClaimed++
		}
	}
	// The engine takes what the endpoint can start plus a round to hold,
	// then declines: the rest are left to claims.
	if slowClaimed < 4 || slowClaimed > 16 {
		t.Errorf("%d of 40 deliveries to the hung endpoint claimed at creation, want 4..16", slowClaimed)
	}
	// The healthy endpoint's deliveries are dispatched while it has room
	// (created faster than it answers, some are declined and claimed when
	// room frees up: no poll is needed either way).
	fastIDs, dispatched := []string{}, map[string]bool{}
	for range 50 {
		d := create("fast")
		fastIDs = append(fastIDs, d.ID)
		dispatched[d.ID] = d.Claim == 1
	}
	if n := len(slices.DeleteFunc(slices.Clone(fastIDs), func(id string) bool { return !dispatched[id] })); n < 4 {
		t.Errorf("%d of 50 deliveries to the healthy endpoint claimed at creation, want at least its concurrency 4", n)
	}
	for _, id := range fastIDs {
		d := b.waitStatus(t, id, store.StatusSucceeded, 5*time.Second)
		if dispatched[id] && d.Claim != 1 {
			t.Errorf("dispatched delivery %s succeeded under claim %d, want its first", id, d.Claim)
		}
	}
	if n := slow.count(); n != 4 {
		t.Errorf("hung endpoint has %d requests, want its concurrency limit 4", n)
	}
	releaseOnce.Do(func() { close(release) })
}

// TestEngineOperationalWebhooksDurable: an operational webhook is in the
// store as soon as the change it reports is committed, so it survives a
// process that dies before sending it; the engine then delivers it like
// any delivery: signed, retried after a 503, its attempts on record, to
// the operator URL on loopback although private networks are not allowed
// for endpoints (the operator URL is configuration).
func TestEngineOperationalWebhooksDurable(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	ops := &operatorSink{newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, _ []byte) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})}
	rc := newReceiver(t, nil)
	b := setup(t, Config{})
	b.operator(t, ops.URL, secret)
	ep := b.endpoint(t, rc.URL, "github", []string{"s"}, nil)
	_, ds := b.accept(t, "x", `{}`)

	// A previous process attempted it, recorded its final failure, and was
	// killed before sending anything else.
	ctx := context.Background()
	jobs, err := b.store.ClaimDueDeliveries(ctx, store.ClaimParams{Now: time.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	if err := store.CompleteAttempt(ctx, b.store, store.AttemptResult{
		DeliveryID: ds[0].ID, Claim: jobs[0].Delivery.Claim, Status: store.StatusFailed,
		Attempt: store.Attempt{StartedAt: time.Now(), URL: rc.URL, StatusCode: 500, Trigger: "scheduled"},
	}); err != nil {
		t.Fatal(err)
	}
	tenant := store.OperatorTenant
	opd, _, err := b.store.ListDeliveries(ctx, store.DeliveryFilter{Tenant: &tenant})
	if err != nil || len(opd) != 1 || opd[0].EventType != store.OpDeliveryExhausted || opd[0].Status != store.StatusPending {
		t.Fatalf("operational deliveries after the commit: %+v, %v", opd, err)
	}

	b.start(t)
	b.waitStatus(t, opd[0].ID, store.StatusSucceeded, 10*time.Second)
	as := b.attempts(t, opd[0].ID)
	if got := statuses(as); !slices.Equal(got, []int{503, 200}) {
		t.Errorf("operational delivery attempts %s, want 503 then 200", describe(as))
	}
	ev := ops.waitType(t, store.OpDeliveryExhausted)
	if ev.Data["delivery_id"] != ds[0].ID || ev.Data["endpoint_id"] != ep.ID || ev.Data["last_status"] != float64(500) {
		t.Errorf("delivery.exhausted data %v", ev.Data)
	}
	std, _ := signature.Lookup("standard")
	for _, r := range ops.requests() {
		if err := std.Verify(r.header, r.body, []string{secret}, nil); err != nil {
			t.Errorf("operational webhook not signed: %v", err)
		}
	}
	if rc.count() != 0 {
		t.Errorf("the endpoint on loopback was reached %d times without AllowPrivateNetworks", rc.count())
	}
}
