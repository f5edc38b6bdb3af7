package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// countNotifier counts Notify calls.
type countNotifier struct{ n atomic.Int64 }

func (c *countNotifier) Notify() { c.n.Add(1) }

// testBundle is one API on a real SQLite store behind a real HTTP server.
type testBundle struct {
	url      string
	key      string
	store    *sqlite.Store
	clock    *testClock
	notifier *countNotifier
}

// setup starts an API; cfg's Store, Now and Notifier are filled in.
// Private networks are allowed unless cfg says otherwise via disallow.
func setup(t *testing.T, mutate func(*Config)) *testBundle {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), &sqlite.Config{Cipher: box, SearchFields: []string{"order.id"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	tb := &testBundle{
		store:    st,
		clock:    &testClock{now: time.Now().UTC().Truncate(time.Millisecond)},
		notifier: &countNotifier{},
	}
	cfg := Config{Store: st, Notifier: tb.notifier, Now: tb.clock.Now, AllowPrivateNetworks: true}
	if mutate != nil {
		mutate(&cfg)
	}
	k, key, err := NewAPIKey("test", "", tb.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	tb.key = key
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	tb.url = srv.URL
	return tb
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) json(t *testing.T, v any) {
	t.Helper()
	reflect.ValueOf(v).Elem().SetZero() // no leftovers from an earlier decode
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// errCode returns the error code and message of an error response.
func (r *response) errCode(t *testing.T) (string, string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Code, e.Error.Message
}

// do sends a request with the bundle's key; body may be a string, []byte,
// nil, or anything to marshal.
func (tb *testBundle) do(t *testing.T, method, path string, body any) *response {
	t.Helper()
	return tb.doKey(t, tb.key, method, path, body)
}

func (tb *testBundle) doKey(t *testing.T, key, method, path string, body any) *response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, tb.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must checks the status and returns the response.
func must(t *testing.T, r *response, status int) *response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

// wantError checks an error response's status and code, and that its
// message contains each of parts.
func wantError(t *testing.T, r *response, status int, code string, parts ...string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	c, msg := r.errCode(t)
	if c != code {
		t.Errorf("code %q, want %q (%s)", c, code, msg)
	}
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("message %q does not contain %q", msg, p)
		}
	}
}

// createEndpoint creates an endpoint from fields and returns its response.
func (tb *testBundle) createEndpoint(t *testing.T, fields map[string]any) endpointJSON {
	t.Helper()
	if _, ok := fields["url"]; !ok {
		fields["url"] = "http://127.0.0.1:9/hook"
	}
	var ep endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints", fields), http.StatusCreated).json(t, &ep)
	return ep
}

// sendEvent posts an event body and returns the decoded response.
func (tb *testBundle) sendEvent(t *testing.T, body string) eventJSON {
	t.Helper()
	var ev eventJSON
	must(t, tb.do(t, "POST", "/api/v1/events", body), http.StatusAccepted).json(t, &ev)
	return ev
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)

	r := tb.doKey(t, "", "GET", "/api/v1/endpoints", nil)
	wantError(t, r, http.StatusUnauthorized, CodeUnauthorized)
	if r.header.Get("WWW-Authenticate") == "" {
		t.Error("401 without WWW-Authenticate")
	}
	wantError(t, tb.doKey(t, "hr_not-a-real-key-at-all", "GET", "/api/v1/endpoints", nil), http.StatusUnauthorized, CodeUnauthorized)
	// Unknown routes need a key too.
	wantError(t, tb.doKey(t, "", "GET", "/api/v1/nothing", nil), http.StatusUnauthorized, CodeUnauthorized)
	req, _ := http.NewRequest("GET", tb.url+"/api/v1/endpoints", nil)
	req.Header.Set("Authorization", "Basic "+tb.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("Basic auth: status %d, want 401", resp.StatusCode)
	}
	must(t, tb.do(t, "GET", "/api/v1/endpoints", nil), http.StatusOK)

	// A key created through the API works until it is revoked through
	// the API, which takes effect at once.
	var k keyJSON
	must(t, tb.do(t, "POST", "/api/v1/keys", map[string]string{"name": "ci"}), http.StatusCreated).json(t, &k)
	if !strings.HasPrefix(k.Key, KeyPrefix) || k.Prefix != k.Key[:keyPrefixLen] {
		t.Fatalf("created key %q with prefix %q", k.Key, k.Prefix)
	}
	must(t, tb.doKey(t, k.Key, "GET", "/api/v1/keys", nil), http.StatusOK)
	must(t, tb.do(t, "DELETE", "/api/v1/keys/"+k.ID, nil), http.StatusNoContent)
	wantError(t, tb.doKey(t, k.Key, "GET", "/api/v1/keys", nil), http.StatusUnauthorized, CodeUnauthorized)

	// A key revoked elsewhere (straight in the store, as another process
	// would) stops working once the cache entry expires.
	must(t, tb.do(t, "POST", "/api/v1/keys", map[string]string{"name": "other"}), http.StatusCreated).json(t, &k)
	must(t, tb.doKey(t, k.Key, "GET", "/api/v1/keys", nil), http.StatusOK)
	if err := tb.store.RevokeAPIKey(context.Background(), k.ID, tb.clock.Now()); err != nil {
		t.Fatal(err)
	}
	tb.clock.Advance(keyCacheTTL + time.Second)
	wantError(t, tb.doKey(t, k.Key, "GET", "/api/v1/keys", nil), http.StatusUnauthorized, CodeUnauthorized)
}

func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.MaxPayloadBytes = 1000 })
	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
		parts            []string
	}{
		{"syntax error", "/api/v1/endpoints", `{"url": "http://127.0.0.1/",}`, 400, CodeInvalidRequest, []string{"byte offset 28"}},
		{"truncated", "/api/v1/endpoints", `{"url": "http://`, 400, CodeInvalidRequest, []string{"offset", "end of input"}},
		{"empty", "/api/v1/endpoints", ``, 400, CodeInvalidRequest, []string{"empty"}},
		{"not an object", "/api/v1/endpoints", `[1]`, 400, CodeInvalidRequest, []string{"offset"}},
		{"wrong type", "/api/v1/endpoints", `{"url": 5}`, 400, CodeInvalidRequest, []string{`"url"`, "a string"}},
		{"unknown field", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","colour":"red"}`, 400, CodeInvalidRequest, []string{"colour"}},
		{"trailing data", "/api/v1/endpoints", `{"url":"http://127.0.0.1/"} {}`, 400, CodeInvalidRequest, []string{"byte offset 28"}},
		{"event syntax error", "/api/v1/events", `{"type":"a","payload":{"x":}}`, 400, CodeInvalidRequest, []string{"byte offset 27"}},
		// A raw control character inside a string: refused by both
		// encoding/json and JSON.parse.
		{"event control char", "/api/v1/events", "{\"type\":\"a\",\"payload\":\"a\x01\"}", 400, CodeInvalidRequest, []string{"offset"}},
		{"event without payload", "/api/v1/events", `{"type":"a"}`, 422, CodeValidation, []string{"payload"}},
		{"event without type", "/api/v1/events", `{"payload":{}}`, 422, CodeValidation, []string{"type"}},
		{"event type with space", "/api/v1/events", `{"type":"a b","payload":{}}`, 422, CodeValidation, []string{"type"}},
		{"event payload too large", "/api/v1/events", `{"type":"a","payload":"` + strings.Repeat("x", 1000) + `"}`, 413, CodeTooLarge, []string{"1000"}},
		{"event body too large", "/api/v1/events", `{"type":"a","payload":"` + strings.Repeat("x", 20<<10) + `"}`, 413, CodeTooLarge, nil},
		{"endpoint body too large", "/api/v1/endpoints", `{"description":"` + strings.Repeat("x", 70<<10) + `"}`, 413, CodeTooLarge, nil},
		{"replay without since", "/api/v1/endpoints/ep_x/replay", `{}`, 422, CodeValidation, []string{"since"}},
		{"replay bad since", "/api/v1/endpoints/ep_x/replay", `{"since":"yesterday"}`, 400, CodeInvalidRequest, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			wantError(t, tb.do(t, "POST", tc.path, tc.body), tc.status, tc.code, tc.parts...)
		})
	}
	// Nothing was created by any of them.
	var l list[endpointJSON]
	must(t, tb.do(t, "GET", "/api/v1/endpoints", nil), 200).json(t, &l)
	if len(l.Data) != 0 {
		t.Errorf("bad requests created %d endpoints", len(l.Data))
	}
}

func TestQueryErrors(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	for _, q := range []string{
		"/api/v1/endpoints?limit=0",
		"/api/v1/endpoints?limit=1001",
		"/api/v1/endpoints?limit=x",
		"/api/v1/deliveries?status=lost",
		"/api/v1/deliveries?since=monday",
		"/api/v1/deliveries?cursor=" + strings.Repeat("c", 300),
	} {
		wantError(t, tb.do(t, "GET", q, nil), 400, CodeInvalidRequest)
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/endpoints/ep_missing", ""},
		{"PATCH", "/api/v1/endpoints/ep_missing", `{"description":"x"}`},
		{"DELETE", "/api/v1/endpoints/ep_missing", ""},
		{"POST", "/api/v1/endpoints/ep_missing/rotate-secret", ""},
		{"POST", "/api/v1/endpoints/ep_missing/secret/reveal", ""},
		{"GET", "/api/v1/endpoints/ep_missing/deliveries", ""},
		{"POST", "/api/v1/endpoints/ep_missing/replay", `{"since":"2020-01-01T00:00:00Z"}`},
		{"GET", "/api/v1/events/evt_missing", ""},
		{"GET", "/api/v1/events/evt_missing/deliveries", ""},
		{"GET", "/api/v1/deliveries/dlv_missing", ""},
		{"POST", "/api/v1/deliveries/dlv_missing/retry", ""},
		{"DELETE", "/api/v1/keys/key_missing", ""},
		{"GET", "/api/v1/nothing/here", ""},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		wantError(t, tb.do(t, tc.method, tc.path, body), 404, CodeNotFound)
	}
	r := tb.do(t, "PUT", "/api/v1/endpoints", "{}")
	wantError(t, r, http.StatusMethodNotAllowed, CodeMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, POST" {
		t.Errorf("Allow = %q, want GET, POST", got)
	}
}

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	r := must(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{
		"url": "http://127.0.0.1:9/hook", "description": "orders", "event_types": []string{"order.*", "refund.created", "order.*"},
		"fifo": true, "rate_limit": 2.5,
	}), http.StatusCreated)
	var ep endpointJSON
	r.json(t, &ep)
	if !strings.HasPrefix(ep.ID, "ep_") || r.header.Get("Location") != "/api/v1/endpoints/"+ep.ID {
		t.Errorf("id %q, Location %q", ep.ID, r.header.Get("Location"))
	}
	if ep.Scheme != "standard" || !strings.HasPrefix(ep.Secret, "whsec_") {
		t.Errorf("scheme %q secret %q: want a generated standard whsec_ secret", ep.Scheme, ep.Secret)
	}
	if got := strings.Join(ep.EventTypes, ","); got != "order.*,refund.created" || !ep.FIFO || ep.RateLimit != 2.5 || ep.Description != "orders" {
		t.Errorf("created %+v", ep)
	}

	var got endpointJSON
	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil), 200).json(t, &got)
	if got.URL != ep.URL || got.Secret != "" || len(got.Secrets) != 1 {
		t.Errorf("get: %+v", got)
	}

	// PATCH changes only what it names.
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, map[string]any{
		"url": "http://127.0.0.1:10/new", "event_types": []string{}, "disabled": true,
	}), 200).json(t, &got)
	if got.URL != "http://127.0.0.1:10/new" || len(got.EventTypes) != 0 || !got.Disabled || got.DisabledReason != "manual" ||
		got.Description != "orders" || !got.FIFO || got.RateLimit != 2.5 {
		t.Errorf("patched: %+v", got)
	}
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"disabled":false}`), 200).json(t, &got)
	if got.Disabled || got.DisabledReason != "" {
		t.Errorf("re-enabled: %+v", got)
	}
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"tenant":"other"}`), 422, CodeValidation, "tenant")
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"scheme":"nope"}`), 422, CodeValidation, "unknown scheme")
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"url":"ftp://x"}`), 422, CodeValidation, "url")
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"rate_limit":-1}`), 422, CodeValidation, "rate_limit")
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"event_types":["a*"]}`), 422, CodeValidation, "'*'")
	// The whsec_ secret is valid for github too (any text is), so the
	// scheme can change without a new secret; the reverse needs one.
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"scheme":"github","secret":"plain text secret"}`), 200).json(t, &got)
	if got.Scheme != "github" {
		t.Errorf("scheme %q after patch", got.Scheme)
	}
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"scheme":"standard"}`), 422, CodeValidation, "secret")

	must(t, tb.do(t, "DELETE", "/api/v1/endpoints/"+ep.ID, nil), http.StatusNoContent)
	wantError(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil), 404, CodeNotFound)
}

func TestSchemes(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","scheme":"rot13"}`), 422, CodeValidation, "unknown scheme", "standard")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","scheme":"standard","secret":"not base64!"}`), 422, CodeValidation, "secret")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","scheme":"custom"}`), 422, CodeValidation, "custom_scheme")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","scheme":"github","custom_scheme":{"name":"x","header":"X-Sig"}}`), 422, CodeValidation, "custom_scheme")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","scheme":"custom","custom_scheme":{"name":"acme","header":"X Sig"}}`), 422, CodeValidation, "header")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","custom_scheme":{"name":"acme","header":"X-Sig","encodng":"hex"}}`), 422, CodeValidation, "encodng")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://127.0.0.1/","custom_scheme":[1]}`), 422, CodeValidation, "object")

	for _, name := range []string{"github", "stripe", "shopify", "slack", "plextrac", "teak", "svix"} {
		ep := tb.createEndpoint(t, map[string]any{"scheme": name})
		if ep.Secret == "" {
			t.Errorf("%s: no generated secret", name)
		}
	}
	ep := tb.createEndpoint(t, map[string]any{"scheme": "github", "secret": "It's a Secret to Everybody"})
	if ep.Secret != "It's a Secret to Everybody" {
		t.Errorf("given secret not kept: %q", ep.Secret)
	}
	custom := `{"name":"acme","header":"X-Acme-Signature","encoding":"base64","prefix":"sha256=","signed":"template","template":"{timestamp}.{body}","timestamp_header":"X-Acme-Time"}`
	ep = tb.createEndpoint(t, map[string]any{"custom_scheme": json.RawMessage(custom)})
	if ep.Scheme != "custom" || !strings.Contains(string(ep.CustomScheme), `"X-Acme-Signature"`) {
		t.Errorf("custom endpoint: scheme %q custom %s", ep.Scheme, ep.CustomScheme)
	}
	stored, err := tb.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := schemes.Resolve(stored.Scheme, stored.CustomScheme); err != nil || s.Name() != "acme" {
		t.Errorf("stored custom scheme does not load: %v", err)
	}
}

func TestPrivateNetworks(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.AllowPrivateNetworks = false })
	for _, u := range []string{"http://127.0.0.1:8080/", "http://10.1.2.3/", "http://169.254.169.254/latest", "http://[::1]/", "http://localhost/"} {
		wantError(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]string{"url": u}), 422, CodeValidation, "url")
	}
	ep := tb.createEndpoint(t, map[string]any{"url": "https://93.184.216.34/hook"})
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"url":"http://192.168.1.1/"}`), 422, CodeValidation, "url")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", `{"url":"http://user:pw@93.184.216.34/"}`), 422, CodeValidation, "url")
}

func TestSecretOnlyOnCreateAndReveal(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ep := tb.createEndpoint(t, map[string]any{})
	secret := ep.Secret
	if secret == "" {
		t.Fatal("no secret on creation")
	}
	for _, r := range []*response{
		tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil),
		tb.do(t, "GET", "/api/v1/endpoints", nil),
		tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"description":"d"}`),
		tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", nil),
	} {
		must(t, r, 200)
		if bytes.Contains(r.body, []byte(secret)) || bytes.Contains(r.body, []byte(`"secret":`)) {
			t.Errorf("response holds a secret: %s", r.body)
		}
	}
	var rev revealResponse
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/secret/reveal", nil), 200).json(t, &rev)
	if len(rev.Secrets) != 2 || rev.Secrets[1].Secret != secret || rev.Secrets[0].Secret == "" {
		t.Errorf("reveal after rotation: %+v", rev)
	}
	// Stored sealed, not in the clear: the database file does not hold it.
	// (The store's own tests cover sealing; here, only that the API hands
	// the value to the store as a Secret, which redacts itself.)
	stored, err := tb.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(stored.Secrets); strings.Contains(s, secret) {
		t.Errorf("secret formats in the clear: %s", s)
	}
}

func TestRotateSecret(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ep := tb.createEndpoint(t, map[string]any{})
	old := ep.Secret
	t0 := tb.clock.Now()

	var got endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"overlap_seconds":3600}`), 200).json(t, &got)
	if len(got.Secrets) != 2 || got.Secrets[0].ExpiresAt != nil || got.Secrets[1].ExpiresAt == nil ||
		!got.Secrets[1].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after rotation: %+v", got.Secrets)
	}
	stored, err := tb.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Secrets) != 2 || stored.Secrets[1].Value != old || stored.Secrets[0].Value == old {
		t.Fatalf("stored secrets after rotation: new first, old second expected")
	}

	// A second rotation with the default overlap (24 h) does not extend
	// the first old secret beyond its hour.
	tb.clock.Advance(time.Minute)
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`), 200).json(t, &got)
	if len(got.Secrets) != 3 || !got.Secrets[1].ExpiresAt.Equal(t0.Add(time.Minute+24*time.Hour)) || !got.Secrets[2].ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after second rotation: %+v", got.Secrets)
	}
	var rev revealResponse
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/secret/reveal", nil), 200).json(t, &rev)
	if rev.Secrets[0].Secret != "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" || rev.Secrets[2].Secret != old {
		t.Errorf("reveal: %+v", rev.Secrets)
	}
	// Past the hour the first secret no longer shows.
	tb.clock.Advance(2 * time.Hour)
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/secret/reveal", nil), 200).json(t, &rev)
	if len(rev.Secrets) != 2 {
		t.Errorf("reveal after the overlap: %d secrets, want 2", len(rev.Secrets))
	}
	// Overlap 0 drops the old ones at once.
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"overlap_seconds":0}`), 200).json(t, &got)
	if len(got.Secrets) != 1 {
		t.Errorf("overlap 0 kept %d secrets", len(got.Secrets))
	}
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"overlap_seconds":-1}`), 422, CodeValidation, "overlap")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"secret":"short"}`), 422, CodeValidation, "secret")
}

func TestPagination(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	want := map[string]bool{}
	for range 5 {
		want[tb.createEndpoint(t, map[string]any{}).ID] = true
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		var l list[endpointJSON]
		must(t, tb.do(t, "GET", "/api/v1/endpoints?limit=2&cursor="+cursor, nil), 200).json(t, &l)
		pages++
		if len(l.Data) > 2 {
			t.Fatalf("page of %d", len(l.Data))
		}
		for _, e := range l.Data {
			if seen[e.ID] {
				t.Fatalf("%s on two pages", e.ID)
			}
			seen[e.ID] = true
		}
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if len(seen) != len(want) || pages != 3 {
		t.Errorf("saw %d endpoints on %d pages, want 5 on 3", len(seen), pages)
	}
}

func TestEventsAndTenants(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	a := tb.createEndpoint(t, map[string]any{"tenant": "acme"})
	b := tb.createEndpoint(t, map[string]any{"tenant": "globex"})
	def := tb.createEndpoint(t, map[string]any{"event_types": []string{"invoice.*"}})

	before := tb.notifier.n.Load()
	ev := tb.sendEvent(t, `{"type":"invoice.paid","tenant":"acme","payload":{"n":1}}`)
	if ev.Deliveries == nil || *ev.Deliveries != 1 {
		t.Fatalf("acme event made %v deliveries, want 1", ev.Deliveries)
	}
	if tb.notifier.n.Load() != before+1 {
		t.Error("engine not notified of the new event")
	}
	var l list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/events/"+ev.ID+"/deliveries", nil), 200).json(t, &l)
	if len(l.Data) != 1 || l.Data[0].EndpointID != a.ID || l.Data[0].Tenant != "acme" {
		t.Fatalf("acme event deliveries: %+v", l.Data)
	}
	for _, other := range []string{b.ID, def.ID} {
		must(t, tb.do(t, "GET", "/api/v1/endpoints/"+other+"/deliveries", nil), 200).json(t, &l)
		if len(l.Data) != 0 {
			t.Errorf("endpoint %s of another tenant got %d deliveries", other, len(l.Data))
		}
	}
	// The default tenant's filter applies.
	ev = tb.sendEvent(t, `{"type":"invoice.paid","payload":{}}`)
	if *ev.Deliveries != 1 {
		t.Errorf("default tenant invoice.paid: %d deliveries, want 1", *ev.Deliveries)
	}
	ev = tb.sendEvent(t, `{"type":"user.created","payload":{}}`)
	if *ev.Deliveries != 0 {
		t.Errorf("default tenant user.created: %d deliveries, want 0", *ev.Deliveries)
	}
	// Tenant filters on lists.
	var eps list[endpointJSON]
	must(t, tb.do(t, "GET", "/api/v1/endpoints?tenant=globex", nil), 200).json(t, &eps)
	if len(eps.Data) != 1 || eps.Data[0].ID != b.ID {
		t.Errorf("tenant=globex lists %+v", eps.Data)
	}
	must(t, tb.do(t, "GET", "/api/v1/endpoints?tenant=", nil), 200).json(t, &eps)
	if len(eps.Data) != 1 || eps.Data[0].ID != def.ID {
		t.Errorf("tenant= (default) lists %+v", eps.Data)
	}
	must(t, tb.do(t, "GET", "/api/v1/deliveries?tenant=acme", nil), 200).json(t, &l)
	if len(l.Data) != 1 {
		t.Errorf("deliveries?tenant=acme: %d, want 1", len(l.Data))
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	tb.createEndpoint(t, map[string]any{})
	tb.createEndpoint(t, map[string]any{"tenant": "t2"})

	first := tb.sendEvent(t, `{"type":"a","payload":{"v":1},"idempotency_key":"k1"}`)
	r := must(t, tb.do(t, "POST", "/api/v1/events", `{"type":"a","payload":{"v":2},"idempotency_key":"k1"}`), http.StatusAccepted)
	var again eventJSON
	r.json(t, &again)
	if again.ID != first.ID || !again.Duplicate || r.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("repeat: %+v (header %q), want the first event %s marked duplicate", again, r.header.Get("Idempotent-Replayed"), first.ID)
	}
	// The header works as the key too.
	req, _ := http.NewRequest("POST", tb.url+"/api/v1/events", strings.NewReader(`{"type":"a","payload":{}}`))
	req.Header.Set("Authorization", "Bearer "+tb.key)
	req.Header.Set("Idempotency-Key", "k1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&again)
	resp.Body.Close()
	if again.ID != first.ID {
		t.Errorf("Idempotency-Key header: event %s, want %s", again.ID, first.ID)
	}
	var l list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/deliveries", nil), 200).json(t, &l)
	if len(l.Data) != 1 {
		t.Errorf("%d deliveries after three sends with one key, want 1", len(l.Data))
	}
	// Another tenant has its own keys.
	other := tb.sendEvent(t, `{"type":"a","payload":{},"idempotency_key":"k1","tenant":"t2"}`)
	if other.ID == first.ID || other.Duplicate {
		t.Error("same key in another tenant returned the first event")
	}
	// After the window the key is free again.
	tb.clock.Advance(DefaultIdempotencyWindow + time.Minute)
	later := tb.sendEvent(t, `{"type":"a","payload":{},"idempotency_key":"k1"}`)
	if later.ID == first.ID || later.Duplicate {
		t.Error("key still remembered after the window")
	}
}

func TestPayloadExact(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	for _, payload := range []string{
		`{"z":1,"a":2,"m":{"y":[3,2,1],"b":null}}`,
		`{"big":123456789012345678901234567890,"f":1.0,"e":1E+2,"neg":-0}`,
		`{"esc":"\u00e9\n\t\"\\\/","raw":"é😀","html":"<a href='x'>&amp;</a>","ls":"\u2028"}`,
		"{ \"spaced\" :\t[ 1 ,\n 2 ] }",
		`"just a string"`,
		`12345678901234567890`,
		`[]`,
		`null`,
		`{"dup":1,"dup":2}`,
	} {
		body := `{"type":"t","payload":  ` + payload + "  \n}"
		ev := tb.sendEvent(t, body)
		stored, err := tb.store.GetEvent(context.Background(), ev.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored.Payload) != payload {
			t.Errorf("stored %q, sent %q", stored.Payload, payload)
		}
		r := must(t, tb.do(t, "GET", "/api/v1/events/"+ev.ID, nil), 200)
		var got struct {
			Payload json.RawMessage `json:"payload"`
		}
		r.json(t, &got)
		if string(got.Payload) != payload {
			t.Errorf("GET returned payload %q, sent %q", got.Payload, payload)
		}
	}
}

func TestDeliveriesRetryReplay(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ctx := context.Background()
	ep := tb.createEndpoint(t, map[string]any{})
	ev := tb.sendEvent(t, `{"type":"order.created","payload":{"id":1}}`)

	var l list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/deliveries?endpoint_id="+ep.ID+"&status=pending", nil), 200).json(t, &l)
	if len(l.Data) != 1 || l.Data[0].EventID != ev.ID || l.Data[0].NextAttemptAt == nil || l.Data[0].AttemptCount != 0 {
		t.Fatalf("pending deliveries: %+v", l.Data)
	}
	dlv := l.Data[0]

	// Fail it the way the engine would: claim, then complete with a 500.
	jobs, err := tb.store.ClaimDueDeliveries(ctx, store.ClaimParams{Now: tb.clock.Now().Add(time.Second), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	// While leased it cannot be retried.
	wantError(t, tb.do(t, "POST", "/api/v1/deliveries/"+dlv.ID+"/retry", nil), http.StatusConflict, CodeConflict)
	fail := func(claim int64, number int) {
		t.Helper()
		_, err := tb.store.CompleteAttempts(ctx, []store.AttemptResult{{
			DeliveryID: dlv.ID, Claim: claim, Status: store.StatusFailed,
			Attempt: store.Attempt{
				ID: store.NewID("att"), DeliveryID: dlv.ID, EndpointID: ep.ID, EventID: ev.ID, Number: number,
				StartedAt: tb.clock.Now(), Duration: 1234 * time.Microsecond, URL: ep.URL,
				RequestHeaders: map[string]string{"Webhook-Id": ev.ID}, StatusCode: 500, ResponseBody: []byte("oops"), Trigger: "scheduled",
			},
		}})
		if err != nil {
			t.Fatal(err)
		}
	}
	fail(jobs[0].Delivery.Claim, 1)

	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID+"/deliveries?status=failed", nil), 200).json(t, &l)
	if len(l.Data) != 1 {
		t.Fatalf("failed deliveries: %+v", l.Data)
	}
	d := l.Data[0]
	if d.Status != store.StatusFailed || d.AttemptCount != 1 || d.LastStatus != 500 || d.NextAttemptAt != nil ||
		d.LastAttempt == nil || d.LastAttempt.ResponseBody != "oops" || d.LastAttempt.DurationMS != 1.234 {
		t.Errorf("failed delivery in list: %+v, last attempt %+v", d, d.LastAttempt)
	}
	var one deliveryJSON
	must(t, tb.do(t, "GET", "/api/v1/deliveries/"+dlv.ID, nil), 200).json(t, &one)
	if len(one.Attempts) != 1 || one.Attempts[0].StatusCode != 500 || one.Attempts[0].RequestHeaders["Webhook-Id"] != ev.ID {
		t.Errorf("delivery detail: %+v", one)
	}
	must(t, tb.do(t, "GET", "/api/v1/deliveries?event_type=order.created&since="+tb.clock.Now().Add(-time.Minute).Format(time.RFC3339), nil), 200).json(t, &l)
	if len(l.Data) != 1 {
		t.Errorf("event_type+since filter: %d deliveries", len(l.Data))
	}
	must(t, tb.do(t, "GET", "/api/v1/deliveries?event_type=other", nil), 200).json(t, &l)
	if len(l.Data) != 0 {
		t.Errorf("event_type=other: %d deliveries", len(l.Data))
	}

	// Retry makes it pending and due, and wakes the engine.
	before := tb.notifier.n.Load()
	must(t, tb.do(t, "POST", "/api/v1/deliveries/"+dlv.ID+"/retry", nil), http.StatusAccepted).json(t, &one)
	if one.Status != store.StatusPending || tb.notifier.n.Load() != before+1 {
		t.Errorf("retried: %+v, notified %d times", one, tb.notifier.n.Load()-before)
	}

	// Fail it again, then replay the endpoint's failures.
	jobs, err = tb.store.ClaimDueDeliveries(ctx, store.ClaimParams{Now: tb.clock.Now().Add(time.Second), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	fail(jobs[0].Delivery.Claim, 2)
	var rep replayResponse
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/replay", map[string]string{"since": tb.clock.Now().Add(time.Hour).Format(time.RFC3339)}), http.StatusAccepted).json(t, &rep)
	if rep.Replayed != 0 {
		t.Errorf("replay since the future replayed %d", rep.Replayed)
	}
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/replay", map[string]string{"since": tb.clock.Now().Add(-time.Hour).Format(time.RFC3339)}), http.StatusAccepted).json(t, &rep)
	if rep.Replayed != 1 {
		t.Errorf("replay replayed %d, want 1", rep.Replayed)
	}
	must(t, tb.do(t, "GET", "/api/v1/deliveries/"+dlv.ID, nil), 200).json(t, &one)
	if one.Status != store.StatusPending || len(one.Attempts) != 2 {
		t.Errorf("after replay: %+v", one)
	}

	// Deleting the endpoint cancels the pending delivery; retrying a
	// canceled one conflicts.
	must(t, tb.do(t, "DELETE", "/api/v1/endpoints/"+ep.ID, nil), http.StatusNoContent)
	wantError(t, tb.do(t, "POST", "/api/v1/deliveries/"+dlv.ID+"/retry", nil), http.StatusConflict, CodeConflict)
}

func TestKeys(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var k keyJSON
	must(t, tb.do(t, "POST", "/api/v1/keys", `{"name":"deploy"}`), http.StatusCreated).json(t, &k)
	if k.Key == "" || k.Name != "deploy" {
		t.Fatalf("created %+v", k)
	}
	r := must(t, tb.do(t, "GET", "/api/v1/keys", nil), 200)
	if bytes.Contains(r.body, []byte(k.Key)) || bytes.Contains(r.body, []byte(`"key"`)) {
		t.Errorf("list shows a key: %s", r.body)
	}
	var l list[keyJSON]
	r.json(t, &l)
	if len(l.Data) != 2 {
		t.Errorf("%d keys listed, want 2", len(l.Data))
	}
	stored, err := tb.store.APIKeyByHash(context.Background(), HashKey(k.Key))
	if err != nil || stored.ID != k.ID {
		t.Errorf("key not stored by its hash: %v", err)
	}
	must(t, tb.do(t, "DELETE", "/api/v1/keys/"+k.ID, nil), http.StatusNoContent)
	must(t, tb.do(t, "GET", "/api/v1/keys", nil), 200).json(t, &l)
	for _, x := range l.Data {
		if x.ID == k.ID && x.RevokedAt == nil {
			t.Error("revoked key listed without revoked_at")
		}
	}
	wantError(t, tb.do(t, "POST", "/api/v1/keys", `{"name":"`+strings.Repeat("n", 200)+`"}`), 422, CodeValidation, "name")
}

func TestCheckKey(t *testing.T) {
	t.Parallel()
	for key, ok := range map[string]bool{
		GenerateKey():            true,
		"hr_bench_001":           true,
		"short":                  false,
		"has a space in the key": false,
		strings.Repeat("k", 257): false,
	} {
		if err := CheckKey(key); (err == nil) != ok {
			t.Errorf("CheckKey(%q) = %v, want ok=%v", key, err, ok)
		}
	}
}

// TestEndpointTraceContext checks trace_context through the API: off by
// default, set at creation, kept by a PATCH that does not name it, and
// changed by one that does.
func TestEndpointTraceContext(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	if ep := tb.createEndpoint(t, map[string]any{}); ep.TraceContext {
		t.Errorf("default trace_context true")
	}
	ep := tb.createEndpoint(t, map[string]any{"trace_context": true})
	if !ep.TraceContext {
		t.Fatalf("created with trace_context true: %+v", ep)
	}
	var got endpointJSON
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"description":"x"}`), http.StatusOK).json(t, &got)
	if !got.TraceContext {
		t.Errorf("PATCH of description cleared trace_context")
	}
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"trace_context":false}`), http.StatusOK).json(t, &got)
	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil), http.StatusOK).json(t, &got)
	if got.TraceContext {
		t.Errorf("PATCH trace_context false: still true")
	}
}
