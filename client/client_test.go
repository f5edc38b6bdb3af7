package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/docs"
	"github.com/hookrelay/hookrelay/internal/api"
)

// setup starts a real API for the test and returns a client of it whose
// waits are recorded, not slept.
func setup(t *testing.T, wrap func(http.Handler) http.Handler, mutate func(*api.Config)) (*client.Client, *testServer, *sleeps) {
	t.Helper()
	ts, err := startServer(t.TempDir(), wrap, mutate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Close)
	sl := &sleeps{}
	c := client.New(ts.URL, ts.Key)
	c.Sleep = sl.sleep
	return c, ts, sl
}

// sleeps records the waits a client asks for, returning at once.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

func (s *sleeps) get() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.d...)
}

// flaky answers the first fail requests with status (and Retry-After when
// set) instead of passing them to the API; it counts every request.
type flaky struct {
	next  http.Handler
	fail  atomic.Int32
	calls atomic.Int32

	mu         sync.Mutex
	status     int
	retryAfter string
	// hits, if not nil, gets a value (when it has room) at each failure.
	hits chan struct{}
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if f.fail.Add(-1) >= 0 {
		if f.hits != nil {
			select {
			case f.hits <- struct{}{}:
			default:
			}
		}
		f.mu.Lock()
		status, retryAfter := f.status, f.retryAfter
		f.mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(`{"error":{"code":"internal","message":"try again"}}`))
		return
	}
	f.next.ServeHTTP(w, r)
}

// set sets the answer of the failing requests.
func (f *flaky) set(status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.retryAfter = status, retryAfter
}

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	recv := httptest.NewServer(http.NotFoundHandler())
	defer recv.Close()

	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: recv.URL + "/hook", Description: "billing", EventTypes: []string{"invoice.*"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ep.ID, "ep_") || ep.Scheme != "standard" || !strings.HasPrefix(ep.Secret, "whsec_") || len(ep.Secrets) != 1 {
		t.Fatalf("created %+v", ep)
	}
	var raw map[string]any
	if err := json.Unmarshal(ep.Raw, &raw); err != nil || raw["id"] != ep.ID {
		t.Errorf("Raw %s: %v", ep.Raw, err)
	}

	got, err := c.GetEndpoint(ctx, ep.ID)
	if err != nil || got.Secret != "" || got.Description != "billing" || got.EventTypes[0] != "invoice.*" {
		t.Fatalf("get: %+v, %v", got, err)
	}

	// A partial update changes only what it names.
	up, err := c.UpdateEndpoint(ctx, ep.ID, &client.UpdateEndpointParams{Disabled: new(true), EventTypes: new([]string{})})
	if err != nil {
		t.Fatal(err)
	}
	if !up.Disabled || up.DisabledReason != "manual" || len(up.EventTypes) != 0 || up.Description != "billing" || up.URL != ep.URL {
		t.Errorf("updated %+v", up)
	}

	rot, err := c.RotateSecret(ctx, ep.ID, &client.RotateSecretParams{OverlapSeconds: new(int64(3600))})
	if err != nil || len(rot.Secrets) != 2 || rot.Secrets[1].ExpiresAt == nil {
		t.Fatalf("rotate: %+v, %v", rot, err)
	}
	rev, err := c.RevealSecrets(ctx, ep.ID)
	if err != nil || len(rev.Secrets) != 2 || rev.Secrets[1].Value != ep.Secret || rev.Secrets[0].Value == ep.Secret {
		t.Fatalf("reveal: %+v, %v", rev, err)
	}
	if _, err := c.RotateSecret(ctx, ep.ID, nil); err != nil {
		t.Errorf("rotate without params: %v", err)
	}

	rp, err := c.ReplayFailed(ctx, ep.ID, time.Now().Add(-time.Hour))
	if err != nil || rp.Replayed != 0 {
		t.Errorf("replay: %+v, %v", rp, err)
	}

	if err := c.DeleteEndpoint(ctx, ep.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetEndpoint(ctx, ep.ID)
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
}

func TestTypedErrors(t *testing.T) {
	t.Parallel()
	c, ts, _ := setup(t, nil, nil)
	ctx := t.Context()

	_, err := c.GetEndpoint(ctx, "ep_missing")
	e, ok := errors.AsType[*client.Error](err)
	if !ok || e.StatusCode != 404 || e.Code != "not_found" || !strings.Contains(e.Message, "ep_missing") {
		t.Fatalf("missing endpoint: %#v", err)
	}
	if !errors.Is(err, client.ErrNotFound) || errors.Is(err, client.ErrConflict) {
		t.Errorf("errors.Is of a 404: %v", err)
	}
	if got, want := err.Error(), `endpoint "ep_missing" not found (HTTP 404, not_found)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}

	_, err = c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/x", Scheme: "rot13"})
	if !errors.Is(err, client.ErrValidation) || !strings.Contains(err.Error(), "unknown scheme") {
		t.Errorf("unknown scheme: %v", err)
	}
	// A validation error names the fields it refuses, every one.
	_, err = c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "ftp://x", Scheme: "rot13", EventTypes: []string{"a*b"}})
	if e, ok := errors.AsType[*client.Error](err); !ok || e.Field != "url" || len(e.Fields) != 3 ||
		e.Fields[0].Field != "url" || e.Fields[0].Reason == "" {
		t.Errorf("fields of a validation error: %#v", err)
	} else {
		var names []string
		for _, f := range e.Fields {
			names = append(names, f.Field)
		}
		if got := strings.Join(names, ","); got != "url,event_types,scheme" {
			t.Errorf("fields %s, want url,event_types,scheme", got)
		}
	}

	_, err = c.SendEvent(ctx, &client.SendEventParams{Type: "x", Payload: json.RawMessage(`{"a":`)})
	if !errors.Is(err, client.ErrBadRequest) {
		t.Errorf("malformed payload: %v", err)
	}

	src := &client.CreateSourceParams{Name: "gh", Scheme: "github"}
	if _, err := c.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateSource(ctx, src); !errors.Is(err, client.ErrConflict) {
		t.Errorf("second source of one name: %v", err)
	}

	bad := client.New(ts.URL, "hr_not_a_real_key_at_all")
	if _, err := bad.ListEndpoints(ctx, nil); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("wrong key: %v", err)
	}

	// The sentinels of statuses this API does not answer today, from a
	// server that does.
	for status, want := range map[int]error{403: client.ErrForbidden, 413: client.ErrTooLarge, 429: client.ErrRateLimited} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			w.Write([]byte("<html>no</html>"))
		}))
		_, err := (&client.Client{BaseURL: srv.URL, Key: "k", MaxRetries: -1}).GetEvent(ctx, "evt_1")
		srv.Close()
		e, ok := errors.AsType[*client.Error](err)
		if !errors.Is(err, want) || !ok || e.Code != "" || e.Message != "<html>no</html>" {
			t.Errorf("status %d: %#v", status, err)
		}
	}
}

func TestEventsAndDeliveries(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/hook"})
	if err != nil {
		t.Fatal(err)
	}
	// The payload travels byte for byte: spacing, number text, escapes.
	payload := `{"z": 1.0, "a": [12345678901234567890, "\u00e9"], "html": "<&>"}`
	ev, err := c.SendEvent(ctx, &client.SendEventParams{Type: "order.created", Payload: json.RawMessage(payload)})
	if err != nil {
		t.Fatal(err)
	}
	if ev.Deliveries == nil || *ev.Deliveries != 1 || ev.Duplicate || !strings.HasPrefix(ev.IdempotencyKey, "idem_") {
		t.Fatalf("sent %+v", ev)
	}
	got, err := c.GetEvent(ctx, ev.ID)
	if err != nil || string(got.Payload) != payload || got.Type != "order.created" {
		t.Fatalf("get event: %+v, %v", got, err)
	}
	if b, err := got.PayloadBytes(); err != nil || string(b) != payload {
		t.Errorf("PayloadBytes: %q, %v", b, err)
	}
	if got.ErasedAt != nil {
		t.Errorf("a new event is erased: %+v", got)
	}

	// The caller's key: the second post is the first event.
	p := &client.SendEventParams{Type: "order.created", IdempotencyKey: "once", Payload: json.RawMessage(`1`)}
	first, err := c.SendEvent(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.SendEvent(ctx, p)
	if err != nil || !again.Duplicate || again.ID != first.ID {
		t.Errorf("repeat: %+v, %v", again, err)
	}

	page, err := c.ListDeliveries(ctx, &client.DeliveryFilter{EventID: ev.ID})
	if err != nil || len(page.Data) != 1 {
		t.Fatalf("deliveries: %+v, %v", page, err)
	}
	d := page.Data[0]
	if d.EndpointID != ep.ID || d.Status != client.StatusPending || d.NextAttemptAt == nil {
		t.Errorf("delivery %+v", d)
	}
	n := 0
	for d, err := range c.AllDeliveries(ctx, &client.DeliveryFilter{EndpointID: ep.ID, Status: client.StatusPending, Since: time.Now().Add(-time.Hour)}) {
		if err != nil {
			t.Fatal(err)
		}
		if d.EndpointID != ep.ID {
			t.Errorf("other endpoint's delivery %+v", d)
		}
		n++
	}
	if n != 2 {
		t.Errorf("AllDeliveries: %d, want 2", n)
	}
	one, err := c.GetDelivery(ctx, d.ID)
	if err != nil || one.ID != d.ID || len(one.Attempts) != 0 {
		t.Errorf("get delivery: %+v, %v", one, err)
	}
	if ats, err := c.ListAttempts(ctx, d.ID); err != nil || len(ats) != 0 {
		t.Errorf("attempts: %v, %v", ats, err)
	}
	if r, err := c.RetryDelivery(ctx, d.ID); err != nil || r.ID != d.ID || r.Status != client.StatusPending {
		t.Errorf("retry: %+v, %v", r, err)
	}
}

func TestAllEndpointsFollowsCursors(t *testing.T) {
	t.Parallel()
	f := &flaky{}
	c, _, _ := setup(t, func(h http.Handler) http.Handler { f.next = h; return f }, nil)
	ctx := t.Context()
	want := map[string]bool{}
	for range 7 {
		ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/hook", Tenant: "acme"})
		if err != nil {
			t.Fatal(err)
		}
		want[ep.ID] = true
	}
	if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/other"}); err != nil {
		t.Fatal(err)
	}
	f.calls.Store(0)
	filter := &client.EndpointFilter{Tenant: new("acme"), Limit: 2}
	seen := map[string]bool{}
	for ep, err := range c.AllEndpoints(ctx, filter) {
		if err != nil {
			t.Fatal(err)
		}
		if !want[ep.ID] || seen[ep.ID] || len(ep.Raw) == 0 {
			t.Errorf("unexpected or repeated endpoint %s (raw %d bytes)", ep.ID, len(ep.Raw))
		}
		seen[ep.ID] = true
	}
	if len(seen) != 7 || f.calls.Load() != 4 {
		t.Errorf("saw %d endpoints in %d requests, want 7 in 4", len(seen), f.calls.Load())
	}
	// Ranging again starts over; stopping early asks no more pages.
	f.calls.Store(0)
	n := 0
	for _, err := range c.AllEndpoints(ctx, filter) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	if f.calls.Load() != 2 {
		t.Errorf("3 items took %d requests, want 2", f.calls.Load())
	}
	// An error ends the sequence after it is yielded.
	f.fail.Store(1)
	f.set(http.StatusBadRequest, "")
	var errs []error
	for _, err := range c.AllEndpoints(ctx, filter) {
		errs = append(errs, err)
	}
	if len(errs) != 1 || !errors.Is(errs[0], client.ErrBadRequest) {
		t.Errorf("errors of a failing list: %v", errs)
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	f := &flaky{status: http.StatusServiceUnavailable}
	c, _, sl := setup(t, func(h http.Handler) http.Handler { f.next = h; return f }, nil)
	c.MinBackoff, c.MaxBackoff = 100*time.Millisecond, 300*time.Millisecond
	ctx := t.Context()

	// A GET is retried through two 503s.
	f.fail.Store(2)
	if _, err := c.ListEndpoints(ctx, nil); err != nil {
		t.Fatalf("list after two 503s: %v", err)
	}
	if f.calls.Load() != 3 {
		t.Errorf("%d requests, want 3", f.calls.Load())
	}
	// Backoff doubles, less up to half at random, capped.
	f.calls.Store(0)
	f.fail.Store(10)
	_, err := c.ListEndpoints(ctx, nil)
	if e, ok := errors.AsType[*client.Error](err); !ok || e.StatusCode != 503 {
		t.Errorf("after the retries: %v", err)
	}
	if f.calls.Load() != 1+client.DefaultMaxRetries {
		t.Errorf("%d requests, want %d", f.calls.Load(), 1+client.DefaultMaxRetries)
	}
	waits := sl.get()[2:]
	for i, max := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond} {
		if i >= len(waits) || waits[i] < max/2 || waits[i] > max {
			t.Errorf("wait %d: %v, want %v to %v (all: %v)", i, waits, max/2, max, waits)
		}
	}

	// A POST that is not idempotent is sent once.
	f.fail.Store(1)
	f.calls.Store(0)
	_, err = c.CreateAPIKey(ctx, "ci")
	if e, ok := errors.AsType[*client.Error](err); !ok || e.StatusCode != 503 || f.calls.Load() != 1 {
		t.Errorf("create key through a 503: %v after %d requests", err, f.calls.Load())
	}

	// Retry-After is waited for, as given.
	f.fail.Store(1)
	f.set(http.StatusTooManyRequests, "0")
	before := len(sl.get())
	if _, err := c.ListAPIKeys(ctx); err != nil {
		t.Fatalf("list keys after a 429: %v", err)
	}
	f.fail.Store(1)
	f.set(http.StatusTooManyRequests, "1") // longer than MaxBackoff: not waited for
	_, err = c.ListAPIKeys(ctx)
	e, ok := errors.AsType[*client.Error](err)
	if !ok || !errors.Is(err, client.ErrRateLimited) || e.RetryAfter != time.Second {
		t.Errorf("429 with Retry-After 1: %v", err)
	}
	if w := sl.get()[before:]; len(w) != 1 || w[0] > 100*time.Millisecond {
		// Retry-After: 0 asks for no wait beyond the backoff, which then
		// applies; the 1 s one is not waited.
		t.Errorf("waits around the 429s: %v", w)
	}

	// MaxRetries < 0: never.
	f.fail.Store(1)
	f.set(http.StatusBadGateway, "")
	f.calls.Store(0)
	c.MaxRetries = -1
	if _, err := c.ListAPIKeys(ctx); err == nil || f.calls.Load() != 1 {
		t.Errorf("MaxRetries -1: %v after %d requests", err, f.calls.Load())
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	t.Parallel()
	f := &flaky{status: http.StatusInternalServerError, hits: make(chan struct{}, 1)}
	c, _, _ := setup(t, func(h http.Handler) http.Handler { f.next = h; return f }, nil)
	f.fail.Store(5)
	ctx, cancel := context.WithCancel(t.Context())
	c.Sleep = nil // the real timer, which the cancel must interrupt
	c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour
	done := make(chan error, 1)
	go func() {
		_, err := c.GetEndpoint(ctx, "ep_x")
		done <- err
	}()
	<-f.hits
	cancel()
	// Canceled while waiting the hour, or before (while the answer was
	// on its way, or just after it): the call ends at once either way.
	err := <-done
	if e, ok := errors.AsType[*client.Error](err); !errors.Is(err, context.Canceled) && (!ok || e.StatusCode != 500) {
		t.Errorf("canceled retry: %v", err)
	}
	if f.calls.Load() != 1 {
		t.Errorf("%d requests, want 1", f.calls.Load())
	}
}

// dropFirst runs the first event post through the API, then closes the
// connection instead of answering: the event is stored, the client never
// hears of it.
type dropFirst struct {
	next    http.Handler
	dropped atomic.Bool
	posts   atomic.Int32
}

func (d *dropFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" {
		d.next.ServeHTTP(w, r)
		return
	}
	d.posts.Add(1)
	if d.dropped.Swap(true) {
		d.next.ServeHTTP(w, r)
		return
	}
	d.next.ServeHTTP(httptest.NewRecorder(), r)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	conn.Close()
}

func TestSendEventRetryCreatesOneEvent(t *testing.T) {
	t.Parallel()
	d := &dropFirst{}
	c, ts, sl := setup(t, func(h http.Handler) http.Handler { d.next = h; return d }, nil)
	ctx := t.Context()
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/hook"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.SendEvent(ctx, &client.SendEventParams{Type: "invoice.paid", Payload: json.RawMessage(`{"n":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	if d.posts.Load() != 2 || len(sl.get()) != 1 {
		t.Errorf("%d posts, %d waits: want 2 and 1", d.posts.Load(), len(sl.get()))
	}
	// The answer is the event the lost first attempt created.
	if !ev.Duplicate {
		t.Errorf("retried post: %+v", ev)
	}
	// One event, hence one delivery to the one endpoint.
	page, err := c.ListDeliveries(ctx, &client.DeliveryFilter{EndpointID: ep.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Data) != 1 || page.Data[0].EventID != ev.ID {
		t.Errorf("deliveries %+v, want one of %s", page.Data, ev.ID)
	}
	if _, err := ts.Store.GetEvent(ctx, ev.ID); err != nil {
		t.Errorf("the event is not stored: %v", err)
	}
}

func TestSources(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	src, err := c.CreateSource(ctx, &client.CreateSourceParams{
		Name: "github-main", Scheme: "github", ToleranceSeconds: nil,
		Destinations: []client.DestinationParams{{URL: "http://127.0.0.1:1/in", Scheme: "none"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if src.IngestPath != "/in/github-main" || src.Secret == "" || len(src.Destinations) != 1 || src.Destinations[0].Scheme != "none" {
		t.Fatalf("created %+v", src)
	}
	dest, err := c.AddDestination(ctx, "github-main", &client.DestinationParams{URL: "http://127.0.0.1:1/signed", Scheme: "standard"})
	if err != nil || dest.Secret == "" || dest.Tenant != src.Tenant {
		t.Fatalf("add destination: %+v, %v", dest, err)
	}
	// A destination that forwards unsigned has no secret to rotate.
	if _, err := c.RotateSecret(ctx, src.Destinations[0].ID, nil); !errors.Is(err, client.ErrConflict) {
		t.Errorf("rotate an unsigned destination: %v", err)
	}
	up, err := c.UpdateSource(ctx, src.ID, &client.UpdateSourceParams{Description: new("main repo"), SlackChallenge: new(false)})
	if err != nil || up.Description != "main repo" || len(up.Destinations) != 2 {
		t.Fatalf("update: %+v, %v", up, err)
	}
	got, err := c.GetSource(ctx, "github-main")
	if err != nil || got.ID != src.ID || got.Secret != "" {
		t.Fatalf("get by name: %+v, %v", got, err)
	}
	n := 0
	for s, err := range c.AllSources(ctx, &client.ListOptions{Limit: 1}) {
		if err != nil || s.ID != src.ID {
			t.Fatalf("AllSources: %+v, %v", s, err)
		}
		n++
	}
	if n != 1 {
		t.Errorf("AllSources: %d sources", n)
	}
	rj, err := c.ListRejections(ctx, src.ID, nil)
	if err != nil || len(rj.Data) != 0 {
		t.Errorf("rejections: %+v, %v", rj, err)
	}
	if err := c.DeleteSource(ctx, src.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetEndpoint(ctx, dest.ID); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("destination after its source's deletion: %v", err)
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	c, ts, _ := setup(t, nil, nil)
	ctx := t.Context()
	k, err := c.CreateAPIKey(ctx, "ci")
	if err != nil || !strings.HasPrefix(k.Key, "hr_") || k.Prefix != k.Key[:len(k.Prefix)] {
		t.Fatalf("create: %+v, %v", k, err)
	}
	ci := client.New(ts.URL, k.Key)
	page, err := ci.ListAPIKeys(ctx)
	if err != nil || len(page.Data) != 2 || page.NextCursor != "" {
		t.Fatalf("list with the new key: %+v, %v", page, err)
	}
	if err := c.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := ci.ListAPIKeys(ctx); !errors.Is(err, client.ErrUnauthorized) {
		t.Errorf("revoked key: %v", err)
	}
}

func TestScopedKeysAndTenantTokens(t *testing.T) {
	t.Parallel()
	c, ts, _ := setup(t, nil, func(cfg *api.Config) { cfg.TokenKey = bytes.Repeat([]byte{9}, 32) })
	ctx := t.Context()
	acme := "acme"
	k, err := c.CreateScopedAPIKey(ctx, &client.KeyParams{Name: "acme", Tenant: &acme, Scopes: []string{"endpoints:read", "keys:write"}})
	if err != nil || k.Tenant == nil || *k.Tenant != "acme" || strings.Join(k.Scopes, ",") != "endpoints:read,keys:write" {
		t.Fatalf("create scoped key: %+v, %v", k, err)
	}
	ca := client.New(ts.URL, k.Key)
	if _, err := ca.CreateScopedAPIKey(ctx, &client.KeyParams{Scopes: []string{"admin"}}); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("minting admin from a limited key: %v", err)
	}
	tok, err := ca.CreateTenantToken(ctx, &client.KeyParams{Scopes: []string{"endpoints:read"}, TTL: time.Minute})
	if err != nil || tok.Tenant != "acme" || !strings.HasPrefix(tok.Token, "hrt_") {
		t.Fatalf("create tenant token: %+v, %v", tok, err)
	}
	ct := client.New(ts.URL, tok.Token)
	if _, err := ct.ListEndpoints(ctx, nil); err != nil {
		t.Errorf("list endpoints with the token: %v", err)
	}
	if _, err := ct.ListAPIKeys(ctx); !errors.Is(err, client.ErrForbidden) {
		t.Errorf("list keys with an endpoints:read token: %v", err)
	}
}

// minter mints fixed portal links.
type minter struct{}

func (minter) MintPortalLink(tenant string, ttl time.Duration) (string, error) {
	return "/ui/portal/token-" + tenant, nil
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, func(cfg *api.Config) { cfg.PortalLinks = minter{} })
	before := time.Now()
	l, err := c.CreatePortalLink(t.Context(), "acme", time.Hour)
	if err != nil || l.Path != "/ui/portal/token-acme" || l.Tenant != "acme" || l.ExpiresAt.Before(before.Add(59*time.Minute)) {
		t.Fatalf("portal link: %+v, %v", l, err)
	}
	off, _, _ := setup(t, nil, nil)
	if _, err := off.CreatePortalLink(t.Context(), "acme", 0); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("without the dashboard: %v", err)
	}
}

// TestPaths checks that ids are escaped into paths and the base URL's
// trailing slash is ignored.
func TestPaths(t *testing.T) {
	t.Parallel()
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath()+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c := &client.Client{BaseURL: srv.URL + "/", Key: "hr_key"}
	c.GetSource(t.Context(), "a/b c")
	c.DeleteEndpoint(t.Context(), "ep_1")
	want := []string{"GET /api/v1/sources/a%2Fb%20c Bearer hr_key", "DELETE /api/v1/endpoints/ep_1 Bearer hr_key"}
	if strings.Join(paths, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(paths, "\n"), strings.Join(want, "\n"))
	}
	if _, err := (&client.Client{Key: "k"}).GetEvent(t.Context(), "x"); !errors.Is(err, client.ErrNoBaseURL) {
		t.Errorf("no base URL: %v", err)
	}
}

// TestOpenAPI reads the service's OpenAPI document: the bytes of
// docs/openapi.yaml, even with a key that is not valid.
func TestOpenAPI(t *testing.T) {
	t.Parallel()
	_, ts, _ := setup(t, nil, nil)
	b, err := client.New(ts.URL, "hr_not_a_real_key_at_all").OpenAPI(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != docs.OpenAPIYAML {
		t.Errorf("OpenAPI: %d bytes, not docs/openapi.yaml's %d", len(b), len(docs.OpenAPIYAML))
	}
}

// TestEndpointSettings: the delivery settings go through the client both
// ways, masked on the way back, and a nil schedule goes back to the
// server's.
func TestEndpointSettings(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hook",
		Headers:              map[string]string{"X-Api-Key": "sk_live_client_secret_0042"},
		Auth:                 &client.ReceiverAuth{Type: "bearer", Token: "client-bearer-token-0043"},
		TimeoutSeconds:       3,
		RetryScheduleSeconds: new([]float64{}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Headers["X-Api-Key"] != "****0042" || ep.Auth.Token != "****0043" || ep.TimeoutSeconds != 3 ||
		ep.RetryScheduleSeconds == nil || len(ep.RetryScheduleSeconds) != 0 {
		t.Fatalf("created: %+v %+v", ep, ep.Auth)
	}
	up, err := c.UpdateEndpoint(ctx, ep.ID, &client.UpdateEndpointParams{Auth: &client.ReceiverAuth{},
		RetryScheduleSeconds: new([]float64(nil))})
	if err != nil || up.Auth != nil || up.RetryScheduleSeconds != nil || up.Headers["X-Api-Key"] != "****0042" {
		t.Fatalf("updated: %+v, %v", up, err)
	}
}

// TestEventTypes: the event catalog through the client, a schema
// violation's pointer and keyword on the error, an example sent to one
// endpoint, its stats and a replay of what it missed.
func TestEventTypes(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	schema := json.RawMessage(`{"type":"object","required":["amount"],"properties":{"amount":{"type":"integer"}}}`)
	et, err := c.CreateEventType(ctx, &client.EventTypeParams{Name: "invoice.paid", Description: new("paid"),
		Schema: schema, Example: json.RawMessage(`{"amount":5}`), Enforce: new(true)})
	if err != nil || et.Group != "invoice" || !et.Enforce || et.Raw == nil {
		t.Fatalf("create: %+v, %v", et, err)
	}
	if _, err := c.CreateEventType(ctx, &client.EventTypeParams{Name: "invoice.paid"}); !errors.Is(err, client.ErrConflict) {
		t.Errorf("create twice: %v, want ErrConflict", err)
	}
	_, err = c.SendEvent(ctx, &client.SendEventParams{Type: "invoice.paid", Payload: json.RawMessage(`{"amount":"x"}`)})
	var ae *client.Error
	if !errors.As(err, &ae) || ae.Code != "schema_violation" || ae.Pointer != "/amount" || ae.Keyword == "" {
		t.Errorf("event breaking the schema: %v (%+v)", err, ae)
	}
	up, err := c.UpdateEventType(ctx, "invoice.paid", &client.EventTypeParams{Deprecated: new(true)})
	if err != nil || !up.Deprecated || up.Description != "paid" {
		t.Errorf("update: %+v, %v", up, err)
	}
	page, err := c.ListEventTypes(ctx, &client.EventTypeFilter{Prefix: "invoice."})
	if err != nil || len(page.Data) != 1 || page.Data[0].Name != "invoice.paid" {
		t.Errorf("list: %+v, %v", page, err)
	}
	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := c.SendExample(ctx, "invoice.paid", ep.ID)
	if err != nil || ev.Deliveries == nil || *ev.Deliveries != 1 {
		t.Errorf("send example: %+v, %v", ev, err)
	}
	st, err := c.GetEndpointStats(ctx, ep.ID)
	if err != nil || st.EndpointID != ep.ID || len(st.Windows) == 0 {
		t.Errorf("stats: %+v, %v", st, err)
	}
	rm, err := c.ReplayMissing(ctx, ep.ID, &client.ReplayMissingParams{Since: time.Now().Add(-time.Hour)})
	if err != nil || !rm.Complete || rm.Created != 0 {
		t.Errorf("replay missing: %+v, %v (the example has its delivery)", rm, err)
	}
	if err := c.DeleteEventType(ctx, "invoice.paid"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetEventType(ctx, "invoice.paid"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("get deleted: %v, want ErrNotFound", err)
	}
}

// TestSendEvents: one result per event in order, across more than one
// batch request; a bad event gets its typed error and the others are
// stored; a repeated key gives the earlier event.
func TestSendEvents(t *testing.T) {
	t.Parallel()
	var posts atomic.Int64
	count := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/v1/events/batch" {
				posts.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	}
	c, ts, _ := setup(t, count, nil)
	ctx := t.Context()
	if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/hook"}); err != nil {
		t.Fatal(err)
	}
	n := client.MaxBatchEvents + 5
	evs := make([]*client.SendEventParams, n)
	for i := range evs {
		evs[i] = &client.SendEventParams{Type: "order.created", Payload: json.RawMessage(fmt.Sprintf(`{"n": %d.0}`, i))}
	}
	evs[3].Type = "bad type"
	evs[7].IdempotencyKey, evs[n-1].IdempotencyKey = "same", "same"
	res, err := c.SendEvents(ctx, evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != n || posts.Load() != 2 {
		t.Fatalf("%d results in %d requests, want %d in 2", len(res), posts.Load(), n)
	}
	if r := res[3]; r.Err == nil || r.Err.Code != "validation_failed" || r.Status != 422 || r.Event != nil {
		t.Fatalf("result 3 = %+v", r)
	}
	if r := res[n-1]; r.Event == nil || !r.Event.Duplicate || r.Event.ID != res[7].Event.ID {
		t.Fatalf("result %d = %+v, want event 7", n-1, r)
	}
	for _, i := range []int{0, 7, client.MaxBatchEvents, n - 2} {
		r := res[i]
		if r.Err != nil || r.Event == nil || r.Event.Deliveries == nil || *r.Event.Deliveries != 1 {
			t.Fatalf("result %d = %+v", i, r)
		}
		got, err := c.GetEvent(ctx, r.Event.ID)
		if err != nil || string(got.Payload) != fmt.Sprintf(`{"n": %d.0}`, i) {
			t.Fatalf("event %d: %+v, %v", i, got, err)
		}
	}
	if st, err := ts.Store.QueueStats(ctx, time.Now()); err != nil || st.Pending != int64(n-2) {
		t.Fatalf("pending %+v, %v; want %d", st, err, n-2)
	}
}

func TestEraseEvent(t *testing.T) {
	t.Parallel()
	c, _, _ := setup(t, nil, nil)
	ctx := t.Context()
	if _, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "http://127.0.0.1:1/hook"}); err != nil {
		t.Fatal(err)
	}
	ev, err := c.SendEvent(ctx, &client.SendEventParams{Type: "user.updated", Payload: json.RawMessage(`{"email":"alice@example.com"}`)})
	if err != nil {
		t.Fatal(err)
	}
	erased, err := c.EraseEvent(ctx, ev.ID)
	if err != nil || erased.ErasedAt == nil || erased.Payload != nil {
		t.Fatalf("EraseEvent = %+v, %v", erased, err)
	}
	got, err := c.GetEvent(ctx, ev.ID)
	if err != nil || got.ErasedAt == nil || !got.ErasedAt.Equal(*erased.ErasedAt) || got.Payload != nil || got.Type != "user.updated" {
		t.Fatalf("GetEvent after erasing = %+v, %v", got, err)
	}
	if _, err := c.EraseEvent(ctx, "evt_missing"); err == nil {
		t.Fatal("erasing an unknown event succeeded")
	}
}
