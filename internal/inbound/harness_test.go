package inbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// bundle is a gateway and a delivery engine on one real SQLite store,
// behind a real HTTP server on loopback.
type bundle struct {
	t       *testing.T
	store   store.Store
	gateway *Gateway
	engine  *delivery.Engine
	url     string // of the gateway's server
}

// options adjust setup.
type options struct {
	now      func() time.Time // the gateway's clock; nil: time.Now
	maxBody  int64
	rate     float64
	wrap     func(store.Store) store.Store // the store the gateway sees
	noEngine bool
}

// retrySchedule retries quickly, for the outage tests.
var retrySchedule = []time.Duration{
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond,
	400 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond,
	500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond, 500 * time.Millisecond,
}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{9}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "inbound.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func setup(t *testing.T, o *options) *bundle {
	t.Helper()
	if o == nil {
		o = &options{}
	}
	st := openStore(t)
	b := &bundle{t: t, store: st}
	var notifier interface{ Notify() }
	if !o.noEngine {
		eng, err := delivery.New(delivery.Config{
			Store:                st,
			AllowPrivateNetworks: true,
			RetrySchedule:        retrySchedule,
			RequestTimeout:       2 * time.Second,
			PollInterval:         20 * time.Millisecond,
			DisableAfter:         -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); eng.Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		b.engine, notifier = eng, eng
	}
	gst := store.Store(st)
	if o.wrap != nil {
		gst = o.wrap(st)
	}
	g, err := New(Config{
		Store:          gst,
		Notifier:       notifier,
		Now:            o.now,
		MaxBodyBytes:   o.maxBody,
		RejectionRate:  o.rate,
		SourceCacheTTL: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	b.gateway = g
	mux := http.NewServeMux()
	mux.Handle("POST /in/{source}", g)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// source creates a source, with mod applied, and a destination of scheme
// "none" at dest (none if "").
func (b *bundle) source(name, scheme string, secrets []string, dest string, mod func(*store.Source)) *store.Source {
	b.t.Helper()
	now := time.Now()
	src := &store.Source{
		ID: store.NewID("src"), Name: name, Scheme: scheme,
		DedupeWindow: 24 * time.Hour, CreatedAt: now, UpdatedAt: now,
	}
	for _, s := range secrets {
		src.Secrets = append(src.Secrets, store.Secret{Value: s, CreatedAt: now})
	}
	if mod != nil {
		mod(src)
	}
	if err := b.store.CreateSource(context.Background(), src, nil); err != nil {
		b.t.Fatal(err)
	}
	if dest != "" {
		b.destination(src, dest, delivery.SchemeNone, "")
	}
	return src
}

// destination adds an endpoint of the source's tenant.
func (b *bundle) destination(src *store.Source, url, scheme, secret string) *store.Endpoint {
	b.t.Helper()
	now := time.Now()
	ep := &store.Endpoint{
		ID: store.NewID("ep"), Tenant: src.Tenant(), URL: url, Scheme: scheme,
		CreatedAt: now, UpdatedAt: now,
	}
	if secret != "" {
		ep.Secrets = []store.Secret{{Value: secret, CreatedAt: now}}
	}
	if err := b.store.CreateEndpoint(context.Background(), ep); err != nil {
		b.t.Fatal(err)
	}
	return ep
}

// reply is the gateway's answer.
type reply struct {
	status int
	body   string
	header http.Header
}

func (r reply) id(t *testing.T) string {
	t.Helper()
	var v struct {
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate"`
	}
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.ID == "" {
		t.Fatalf("answer %d %q has no id: %v", r.status, r.body, err)
	}
	return v.ID
}

// post sends body with headers to /in/name.
func (b *bundle) post(name string, body []byte, contentType string, h http.Header) reply {
	b.t.Helper()
	req, err := http.NewRequest("POST", b.url+"/in/"+name, bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(rb), header: resp.Header}
}

// rejections lists the stored rejections of a source.
func (b *bundle) rejections(src *store.Source) []*store.Rejection {
	b.t.Helper()
	rs, _, err := b.store.ListRejections(context.Background(), store.RejectionFilter{SourceID: src.ID})
	if err != nil {
		b.t.Fatal(err)
	}
	return rs
}

// events counts the deliveries (one per event here) of a source's tenant.
func (b *bundle) deliveries(src *store.Source) []*store.Delivery {
	b.t.Helper()
	tenant := src.Tenant()
	ds, _, err := b.store.ListDeliveries(context.Background(), store.DeliveryFilter{Tenant: &tenant, Page: store.Page{Limit: 1000}})
	if err != nil {
		b.t.Fatal(err)
	}
	return ds
}

// received is one request a sink got.
type received struct {
	body   []byte
	header http.Header
}

// sink is a loopback destination that records what it receives. While
// down is set it answers 503; while drop is set it closes the connection
// without answering.
type sink struct {
	srv *httptest.Server

	mu       sync.Mutex
	got      []received
	down     bool
	drop     bool
	failures int
}

func newSink(t *testing.T) *sink {
	t.Helper()
	s := &sink{}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	down, drop := s.down, s.drop
	if down || drop {
		s.failures++
	} else {
		s.got = append(s.got, received{body: body, header: r.Header.Clone()})
	}
	s.mu.Unlock()
	switch {
	case drop:
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		}
	case down:
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *sink) set(down, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down, s.drop = down, drop
}

func (s *sink) requests() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.got...)
}

func (s *sink) failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failures
}

// wait waits until the sink has n requests and returns them.
func (s *sink) wait(t *testing.T, n int) []received {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := s.requests()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("destination received %d requests, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tool returns the path of an oracle program, skipping the test when it
// is missing, except in CI, where it must be there.
func tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

// signJob is a request for testdata/sign.js or sign.py.
type signJob struct {
	Scheme  string `json:"scheme"`
	Secret  string `json:"secret"`
	ID      string `json:"id"`
	TS      int64  `json:"ts"`
	BodyB64 string `json:"body_b64"`
}

// signed is a request an independent signer made.
type signed struct {
	header http.Header
	body   []byte
}

// signWith signs jobs with testdata/sign.js ("node") or sign.py
// ("python3").
func signWith(t *testing.T, name string, jobs []signJob) []signed {
	t.Helper()
	script := map[string]string{"node": "sign.js", "python3": "sign.py"}[name]
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, name), filepath.Join("testdata", script))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, script, err, stderr.Bytes())
	}
	var res []struct {
		Headers map[string]string `json:"headers"`
		BodyB64 string            `json:"body_b64"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("%s %s: bad output %q: %v", name, script, out, err)
	}
	sigs := make([]signed, len(res))
	for i, r := range res {
		h := http.Header{}
		for k, v := range r.Headers {
			h[k] = []string{v} // as the vendor spelled it; Go canonicalizes on send anyway
		}
		body, err := base64.StdEncoding.DecodeString(r.BodyB64)
		if err != nil {
			t.Fatal(err)
		}
		sigs[i] = signed{header: h, body: body}
	}
	return sigs
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func uniqueID(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
}
