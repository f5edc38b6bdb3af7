package main

import (
	"github.com/hookrelay/hookrelay/client"
	"maps"

	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/signature"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv returns an env with the given variables and standard input.
func testEnv(vars map[string]string, stdin string) (*env, *syncBuffer, *syncBuffer) {
	out, errb := &syncBuffer{}, &syncBuffer{}
	return &env{
		stdin:  strings.NewReader(stdin),
		stdout: out,
		stderr: errb,
		getenv: func(k string) string { return vars[k] },
	}, out, errb
}

var listeningLine = regexp.MustCompile(`listening on (http://\S+)`)

// liveService is a hookrelay serve running in this process.
type liveService struct {
	url    string
	key    string
	dir    string
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan int
}

// startServe runs "hookrelay serve" on a free port with its data in a
// temporary directory and waits until /healthz answers 200.
func startServe(t *testing.T, extra ...string) *liveService {
	t.Helper()
	return startServeEnv(t, nil, extra...)
}

// startServeEnv is startServe with more environment variables.
func startServeEnv(t *testing.T, vars map[string]string, extra ...string) *liveService {
	t.Helper()
	s := &liveService{key: "hr_test_admin_key_0123456789", dir: t.TempDir(), done: make(chan int, 1)}
	env := map[string]string{"HOOKRELAY_ADMIN_KEY": s.key}
	maps.Copy(env, vars)
	e, _, stderr := testEnv(env, "")
	s.stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", s.dir, "--allow-private-networks", "--log-level", "warn"}, extra...)
	go func() { s.done <- run(ctx, e, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(40 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for s.url == "" {
		if m := listeningLine.FindStringSubmatch(stderr.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case code := <-s.done:
			t.Fatalf("serve exited with %d: %s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve is not listening: %s", stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				if want := `{"status":"ok","store":"ok","version":` + string(healthzVersion()) + `}`; string(bytes.TrimSpace(b)) != want {
					t.Errorf("healthz: %s", b)
				}
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz never answered 200: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs a hookrelay command against s with its admin key (unless key is
// given in vars), and returns stdout, stderr and the exit status.
func (s *liveService) cli(t *testing.T, vars map[string]string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	all := map[string]string{"HOOKRELAY_API": s.url, "HOOKRELAY_KEY": s.key}
	for k, v := range vars {
		all[k] = v
	}
	e, out, errb := testEnv(all, stdin)
	code := run(context.Background(), e, args)
	return out.String(), errb.String(), code
}

// mustCLI is cli that fails the test unless the command succeeds.
func (s *liveService) mustCLI(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errs, code := s.cli(t, nil, stdin, args...)
	if code != 0 {
		t.Fatalf("hookrelay %s: exit %d: %s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// receiver records the webhooks it gets and verifies their signatures.
type receiver struct {
	mu     sync.Mutex
	bodies [][]byte
	errs   []error
	scheme *signature.Scheme
	secret string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := rc.scheme.Verify(r.Header, body, []string{rc.secret}, nil); err != nil {
		rc.errs = append(rc.errs, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.bodies = append(rc.bodies, body)
	io.WriteString(w, "thanks")
}

func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = s
}

func (rc *receiver) received() ([][]byte, []error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]byte(nil), rc.bodies...), append([]error(nil), rc.errs...)
}

func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startServe(t, "--retry-schedule", "100ms,200ms")
	if strings.Contains(svc.stderr.String(), svc.key) {
		t.Error("serve printed the admin key it was given")
	}
	if !strings.Contains(svc.stderr.String(), "from HOOKRELAY_ADMIN_KEY") {
		t.Errorf("serve did not say it created the admin key: %s", svc.stderr)
	}

	standard, err := signature.Lookup("standard")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{scheme: standard}
	recv := httptest.NewServer(rc)
	defer recv.Close()

	// Create an endpoint; its secret comes back once.
	var ep client.Endpoint
	out := svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--description", "test receiver", "--json")
	if err := json.Unmarshal([]byte(out), &ep); err != nil || ep.Secret == "" {
		t.Fatalf("endpoints create --json: %v: %s", err, out)
	}
	rc.setSecret(ep.Secret)

	// Send an event; the payload arrives byte for byte, signed.
	payload := `{"z": 1.0, "a": [12345678901234567890, "\u00e9"], "html": "<&>"}`
	out = svc.mustCLI(t, payload+"\n", "events", "send", "--type", "order.created", "--idempotency-key", "once", "--json")
	var ev client.Event
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.ID == "" || ev.Deliveries == nil || *ev.Deliveries != 1 {
		t.Fatalf("events send --json: %v: %s", err, out)
	}
	var dl struct {
		Data []client.Delivery `json:"data"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		out = svc.mustCLI(t, "", "deliveries", "list", "--event", ev.ID, "--json")
		if err := json.Unmarshal([]byte(out), &dl); err != nil {
			t.Fatalf("deliveries list --json: %v: %s", err, out)
		}
		if len(dl.Data) == 1 && dl.Data[0].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			bodies, errs := rc.received()
			t.Fatalf("delivery did not succeed: %s (receiver: %d bodies, errors %v)", out, len(bodies), errs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := dl.Data[0]
	if d.AttemptCount != 1 || d.LastStatus != 200 || d.LastAttempt == nil || d.LastAttempt.ResponseBody != "thanks" {
		t.Errorf("succeeded delivery: %+v", d)
	}
	bodies, errs := rc.received()
	if len(errs) > 0 || len(bodies) != 1 || string(bodies[0]) != payload {
		t.Fatalf("receiver got %q (errors %v), want exactly %q", bodies, errs, payload)
	}

	// The same idempotency key sends nothing new.
	out = svc.mustCLI(t, payload, "events", "send", "--type", "order.created", "--idempotency-key", "once")
	if !strings.Contains(out, ev.ID) || !strings.Contains(out, "duplicate") {
		t.Errorf("repeat send: %s", out)
	}

	// Tables.
	out = svc.mustCLI(t, "", "endpoints", "list")
	if !strings.Contains(out, ep.ID) || !strings.Contains(out, "SCHEME") || strings.Contains(out, ep.Secret) {
		t.Errorf("endpoints list:\n%s", out)
	}
	out = svc.mustCLI(t, "", "deliveries", "list", "--endpoint", ep.ID, "--status", "succeeded")
	if !strings.Contains(out, d.ID) || !strings.Contains(out, "succeeded") {
		t.Errorf("deliveries list:\n%s", out)
	}
	out = svc.mustCLI(t, "", "deliveries", "get", d.ID)
	if !strings.Contains(out, "attempt 1") || !strings.Contains(out, "Webhook-Signature") {
		t.Errorf("deliveries get:\n%s", out)
	}
	out = svc.mustCLI(t, "", "endpoints", "get", ep.ID)
	if !strings.Contains(out, "test receiver") || strings.Contains(out, ep.Secret) {
		t.Errorf("endpoints get:\n%s", out)
	}
	out = svc.mustCLI(t, "", "endpoints", "update", ep.ID, "--event-type", "order.*", "--json")
	if !strings.Contains(out, `"order.*"`) {
		t.Errorf("endpoints update: %s", out)
	}

	// Retry a delivered one: it is attempted again.
	svc.mustCLI(t, "", "deliveries", "retry", d.ID)
	for {
		if bodies, _ := rc.received(); len(bodies) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retried delivery did not arrive")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out = svc.mustCLI(t, "", "deliveries", "replay", "--endpoint", ep.ID, "--since", "1h")
	if !strings.Contains(out, "0 failed deliveries") {
		t.Errorf("replay: %s", out)
	}

	// Rotation: both secrets sign, reveal shows both.
	svc.mustCLI(t, "", "endpoints", "rotate-secret", ep.ID, "--overlap", "1h")
	out = svc.mustCLI(t, "", "endpoints", "reveal-secret", ep.ID)
	if !strings.Contains(out, ep.Secret) || strings.Count(out, "whsec_") != 2 {
		t.Errorf("reveal-secret after rotation:\n%s", out)
	}

	// Errors: exit status and message.
	_, errs2, code := svc.cli(t, nil, "", "endpoints", "create", "--url", recv.URL, "--scheme", "rot13")
	if code != 1 || !strings.Contains(errs2, "unknown scheme") {
		t.Errorf("unknown scheme: exit %d: %s", code, errs2)
	}
	_, errs2, code = svc.cli(t, map[string]string{"HOOKRELAY_KEY": ""}, "", "endpoints", "list")
	if code != 2 || !strings.Contains(errs2, "HOOKRELAY_KEY") {
		t.Errorf("no key: exit %d: %s", code, errs2)
	}
	_, errs2, code = svc.cli(t, nil, "{not json", "events", "send", "--type", "x")
	if code != 1 || !strings.Contains(errs2, "not JSON") {
		t.Errorf("bad payload: exit %d: %s", code, errs2)
	}

	// Keys through the API.
	var k keyOut
	out = svc.mustCLI(t, "", "keys", "create", "--name", "ci", "--json")
	if err := json.Unmarshal([]byte(out), &k); err != nil || k.Key == "" {
		t.Fatalf("keys create: %v: %s", err, out)
	}
	out, _, code = svc.cli(t, map[string]string{"HOOKRELAY_KEY": k.Key}, "", "keys", "list")
	if code != 0 || !strings.Contains(out, "ci") || !strings.Contains(out, "admin") || strings.Contains(out, k.Key) {
		t.Errorf("keys list with the new key: exit %d:\n%s", code, out)
	}
	// A tenant key with scopes, shown with its tenant, scopes and last use.
	var tk keyOut
	out = svc.mustCLI(t, "", "keys", "create", "--name", "acme-ro", "--tenant", "acme",
		"--scope", "endpoints:read", "--scope", "deliveries:read", "--json")
	if err := json.Unmarshal([]byte(out), &tk); err != nil || tk.Tenant == nil || *tk.Tenant != "acme" ||
		strings.Join(tk.Scopes, ",") != "deliveries:read,endpoints:read" {
		t.Fatalf("keys create --tenant --scope: %v: %s", err, out)
	}
	_, errs2, code = svc.cli(t, map[string]string{"HOOKRELAY_KEY": tk.Key}, "", "keys", "list")
	if code != 1 || !strings.Contains(errs2, "keys:write") {
		t.Errorf("keys list with a read-only key: exit %d: %s", code, errs2)
	}
	out = svc.mustCLI(t, "", "keys", "list")
	if !strings.Contains(out, `"acme"`) || !strings.Contains(out, "deliveries:read,endpoints:read") {
		t.Errorf("keys list does not show tenant and scopes:\n%s", out)
	}
	_, errs2, code = svc.cli(t, nil, "", "keys", "create", "--scope", "everything")
	if code != 2 || !strings.Contains(errs2, "everything") {
		t.Errorf("keys create --scope everything: exit %d: %s", code, errs2)
	}

	svc.mustCLI(t, "", "keys", "revoke", k.ID)
	_, errs2, code = svc.cli(t, map[string]string{"HOOKRELAY_KEY": k.Key}, "", "keys", "list")
	if code != 1 || !strings.Contains(errs2, "401") {
		t.Errorf("revoked key: exit %d: %s", code, errs2)
	}

	// Metrics are served.
	resp, err := http.Get(svc.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(mb, []byte("go_goroutines")) {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}

	// Cancel: serve shuts down cleanly.
	svc.cancel()
	select {
	case code := <-svc.done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, svc.stderr)
		}
		svc.done <- code // for the cleanup
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop")
	}

	// With the service down, keys work on the data directory directly.
	out = svc.mustCLI(t, "", "keys", "create", "--data", svc.dir, "--name", "offline")
	newKey := strings.TrimSpace(out)
	if !strings.HasPrefix(newKey, "hr_") {
		t.Errorf("offline keys create printed %q", out)
	}
	out = svc.mustCLI(t, "", "keys", "list", "--data", svc.dir)
	if !strings.Contains(out, "offline") || !strings.Contains(out, "revoked") {
		t.Errorf("offline keys list:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(svc.dir, "secret.key")); err != nil {
		t.Errorf("no key file in the data directory: %v", err)
	}
}

func TestServeGeneratesAdminKeyOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	start := func() string {
		e, _, stderr := testEnv(map[string]string{}, "")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() { done <- run(ctx, e, []string{"serve", "--addr", "127.0.0.1:0", "--data", dir}) }()
		deadline := time.Now().Add(20 * time.Second)
		for !listeningLine.MatchString(stderr.String()) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exited %d: %s", code, stderr)
		}
		return stderr.String()
	}
	first := start()
	m := regexp.MustCompile(`\n\s+(hr_\S+)\n`).FindStringSubmatch(first)
	if m == nil {
		t.Fatalf("first start printed no key:\n%s", first)
	}
	if second := start(); strings.Contains(second, "hr_") && strings.Contains(second, m[1]) || strings.Contains(second, "admin API key") {
		t.Errorf("second start printed a key again:\n%s", second)
	}
}

func TestServeConfig(t *testing.T) {
	t.Parallel()
	parse := func(vars map[string]string, args ...string) (*serveConfig, error) {
		e, _, _ := testEnv(vars, "")
		return parseServeConfig(e, args)
	}
	c, err := parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DataDir != "./hookrelay-data" || c.AllowPrivateNetworks || c.LogFormat != "text" {
		t.Errorf("defaults: %+v", c)
	}
	env := map[string]string{
		"HOOKRELAY_ADDR": ":9000", "HOOKRELAY_DATA": "/tmp/x", "HOOKRELAY_ALLOW_PRIVATE_NETWORKS": "true",
		"HOOKRELAY_RETRY_SCHEDULE": "1s, 2m", "HOOKRELAY_LOG_FORMAT": "json",
	}
	c, err = parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.DataDir != "/tmp/x" || !c.AllowPrivateNetworks || c.LogFormat != "json" ||
		len(c.RetrySchedule) != 2 || c.RetrySchedule[1] != 2*time.Minute {
		t.Errorf("from the environment: %+v", c)
	}
	c, err = parse(map[string]string{"HOOKRELAY_PORTAL_FRAME_ANCESTORS": "https://app.example.com, https://b.example.com"},
		"--portal-name", "Acme Hooks", "--portal-accent", "#c81e5a", "--portal-pages", "endpoints,deliveries")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.frameAncestors(); len(got) != 2 || got[1] != "https://b.example.com" || c.Portal.ProductName != "Acme Hooks" ||
		c.Portal.AccentColor != "#c81e5a" || len(c.Portal.Pages) != 2 {
		t.Errorf("portal settings: %+v %v", c.Portal, got)
	}
	c, err = parse(map[string]string{"HOOKRELAY_TENANT_PAYLOAD_RETENTION": "acme=24h, beta=7d"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.TenantPayloadRetention) != 2 || c.TenantPayloadRetention["acme"] != 24*time.Hour || c.TenantPayloadRetention["beta"] != 7*24*time.Hour {
		t.Errorf("tenant payload retention: %v", c.TenantPayloadRetention)
	}
	c, err = parse(env, "--addr", ":9001", "--allow-private-networks=false")
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9001" || c.AllowPrivateNetworks {
		t.Errorf("flags over the environment: %+v", c)
	}
	for _, tc := range []struct {
		vars map[string]string
		args []string
	}{
		{nil, []string{"--log-format", "xml"}},
		{nil, []string{"--retry-schedule", "1s,-2s"}},
		{nil, []string{"--portal-frame-ancestors", "https://app.example.com/path"}},
		{nil, []string{"--portal-frame-ancestors", "*"}},
		{nil, []string{"--portal-accent", "red;}"}},
		{nil, []string{"--portal-pages", "endpoints,sources"}},
		{map[string]string{"HOOKRELAY_REQUEST_TIMEOUT": "soon"}, nil},
		{map[string]string{"HOOKRELAY_SECRET_KEY": "c2hvcnQ="}, nil},
		{map[string]string{"HOOKRELAY_ADMIN_KEY": "short"}, nil},
		{nil, []string{"--operator-url", "http://x/", "--operator-scheme", "nope"}},
		{nil, []string{"--operator-secret", "s"}},
		{nil, []string{"extra"}},
		{nil, []string{"--tenant-payload-retention", "acme"}},
		{nil, []string{"--tenant-payload-retention", "acme=soon"}},
		{nil, []string{"--tenant-payload-retention", "acme=0s"}},
		{nil, []string{"--tenant-payload-retention", "acme=1h,acme=2h"}},
		{nil, []string{"--tenant-payload-retention", "acme=31d"}}, // not shorter than --retention's 30 days
		{nil, []string{"--tenant-payload-retention", "bad\x01tenant=1h"}},
	} {
		if _, err := parse(tc.vars, tc.args...); err == nil {
			t.Errorf("%v %v: no error", tc.vars, tc.args)
		}
	}
	e, _, stderr := testEnv(nil, "")
	if _, err := parseServeConfig(e, []string{"-h"}); err != errHelp || !strings.Contains(stderr.String(), "HOOKRELAY_ADDR") {
		t.Errorf("-h: %v, help does not name the env vars:\n%s", err, stderr)
	}
}

// TestServeMaxEndpointsPerTenant: --max-endpoints-per-tenant bounds the
// endpoints of a tenant (422 past it); the default is
// rules.DefaultMaxEndpointsPerTenant, and --node-id is checked.
func TestServeMaxEndpointsPerTenant(t *testing.T) {
	t.Parallel()
	svc := startServe(t, "--max-endpoints-per-tenant", "2", "--node-id", "node-a")
	body := `{"url":"http://127.0.0.1:9/hook","scheme":"standard"}`
	for range 2 {
		mustCall(t, http.StatusCreated, svc.url, svc.key, "POST", "/api/v1/endpoints", body, nil)
	}
	if code, b := call(t, svc.url, svc.key, "POST", "/api/v1/endpoints", body); code != http.StatusUnprocessableEntity {
		t.Fatalf("third endpoint: %d %s, want 422", code, b)
	}

	parse := func(vars map[string]string, args ...string) (*serveConfig, error) {
		e, _, _ := testEnv(vars, "")
		return parseServeConfig(e, args)
	}
	c, err := parse(map[string]string{"HOOKRELAY_NODE_ID": "n1"})
	if err != nil || c.MaxEndpointsPerTenant != rules.DefaultMaxEndpointsPerTenant || c.NodeID != "n1" {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"HOOKRELAY_MAX_ENDPOINTS_PER_TENANT": "-1"})
	if err != nil || c.MaxEndpointsPerTenant != -1 {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	if _, err := parse(nil, "--node-id", "a\nb"); err == nil {
		t.Error("--node-id with a newline: no error")
	}
	if a, b := defaultNodeID("h", "/data/one"), defaultNodeID("h", "/data/two"); a == b || a != "h:/data/one" {
		t.Errorf("default node ids %q and %q", a, b)
	}
}

// TestServeOperationalWebhooks: with --operator-url, a delivery that fails
// for good is reported to the operator, signed, as a delivery of its own
// that the deliveries API lists (tenant hookrelay:operator).
func TestServeOperationalWebhooks(t *testing.T) {
	t.Parallel()
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	standard, err := signature.Lookup("standard")
	if err != nil {
		t.Fatal(err)
	}
	op := &receiver{scheme: standard, secret: secret}
	arrived := make(chan struct{}, 1)
	opSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op.ServeHTTP(w, r)
		select {
		case arrived <- struct{}{}:
		default:
		}
	}))
	defer opSrv.Close()
	gone := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) }))
	defer gone.Close()
	svc := startServe(t, "--operator-url", opSrv.URL+"/ops", "--operator-secret", secret)

	var ep client.Endpoint
	mustCall(t, http.StatusCreated, svc.url, svc.key, "POST", "/api/v1/endpoints",
		fmt.Sprintf(`{"url":%q,"scheme":"standard"}`, gone.URL+"/hook"), &ep)
	var ev client.Event
	mustCall(t, http.StatusAccepted, svc.url, svc.key, "POST", "/api/v1/events", `{"type":"order.created","payload":{}}`, &ev)

	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("no operational webhook within 20s")
	}
	var dl struct {
		Data []client.Delivery `json:"data"`
	}
	mustCall(t, http.StatusOK, svc.url, svc.key, "GET", "/api/v1/deliveries?tenant=hookrelay:operator", "", &dl)
	if len(dl.Data) != 1 || dl.Data[0].EventType != "delivery.exhausted" || dl.Data[0].EndpointID != "ep_operator" {
		t.Errorf("operational deliveries %+v", dl.Data)
	}
	bodies, errs := op.received()
	if len(errs) > 0 || len(bodies) != 1 {
		t.Fatalf("operator got %d bodies, errors %v", len(bodies), errs)
	}
	var body struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(bodies[0], &body); err != nil || body.Type != "delivery.exhausted" ||
		body.Data["event_id"] != ev.ID || body.Data["endpoint_id"] != ep.ID || body.Data["last_status"] != float64(410) {
		t.Errorf("operational webhook %s (%v)", bodies[0], err)
	}
}
