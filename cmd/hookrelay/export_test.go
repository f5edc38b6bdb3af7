package main

import (
	"github.com/hookrelay/hookrelay/client"

	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// call makes an API request with key and returns the status and body.
func call(t *testing.T, base, key, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
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
	return resp.StatusCode, b
}

// mustCall is call that fails the test on a status other than want.
func mustCall(t *testing.T, want int, base, key, method, path, body string, out any) {
	t.Helper()
	code, b := call(t, base, key, method, path, body)
	if code != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// waitDelivery polls a delivery until cond holds, for up to 20s.
func waitDelivery(t *testing.T, base, key, id string, what string, cond func(client.Delivery) bool) client.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var d client.Delivery
		mustCall(t, 200, base, key, "GET", "/api/v1/deliveries/"+id, "", &d)
		if cond(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery %s: not %s within 20s: %+v", id, what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestExportImportToPostgres moves a SQLite installation to PostgreSQL with
// export and import, then serves the PostgreSQL database: an API key made
// on SQLite works, endpoints keep their secrets, an inbound source still
// verifies its sender's signatures, history is there, and a delivery that
// was waiting for a retry is delivered.
func TestExportImportToPostgres(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL := freshDatabase(t, ctx, "hookrelay_import")

	standard, err := signature.Lookup("standard")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{scheme: standard}
	var failing atomic.Bool
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rc.ServeHTTP(w, r)
	}))
	defer recv.Close()

	// The SQLite installation: a second API key, an endpoint, an event
	// delivered, and one whose first attempt failed and that waits for its
	// retry (long enough to still be waiting once moved).
	old := startServe(t, "--retry-schedule", "4s,4s,4s,4s,4s,4s")
	var k keyOut
	mustCall(t, 201, old.url, old.key, "POST", "/api/v1/keys", `{"name":"migrated"}`, &k)
	var ep client.Endpoint
	mustCall(t, 201, old.url, k.Key, "POST", "/api/v1/endpoints", `{"url":"`+recv.URL+`/hook","scheme":"standard","description":"moved"}`, &ep)
	rc.setSecret(ep.Secret)
	mustCall(t, 201, old.url, k.Key, "POST", "/api/v1/sources", `{"name":"github","scheme":"github","secrets":["gh-secret"]}`, nil)
	var ev1, ev2 client.Event
	mustCall(t, 202, old.url, k.Key, "POST", "/api/v1/events", `{"type":"invoice.paid","payload":{"n":1}}`, &ev1)
	var dl struct {
		Data []client.Delivery `json:"data"`
	}
	mustCall(t, 200, old.url, k.Key, "GET", "/api/v1/events/"+ev1.ID+"/deliveries", "", &dl)
	if len(dl.Data) != 1 {
		t.Fatalf("event 1 has %d deliveries", len(dl.Data))
	}
	d1 := waitDelivery(t, old.url, k.Key, dl.Data[0].ID, "succeeded", func(d client.Delivery) bool { return d.Status == "succeeded" })
	failing.Store(true)
	mustCall(t, 202, old.url, k.Key, "POST", "/api/v1/events", `{"type":"invoice.paid","payload":{"n":2}}`, &ev2)
	mustCall(t, 200, old.url, k.Key, "GET", "/api/v1/events/"+ev2.ID+"/deliveries", "", &dl)
	d2 := waitDelivery(t, old.url, k.Key, dl.Data[0].ID, "attempted once", func(d client.Delivery) bool { return d.AttemptCount == 1 })
	if d2.Status != "pending" {
		t.Fatalf("delivery 2 after a 503: %s, want pending", d2.Status)
	}
	old.cancel()
	code := <-old.done
	old.done <- code // for startServe's cleanup
	if code != 0 {
		t.Fatalf("serve exited with %d: %s", code, old.stderr)
	}

	// Export, then import into the new database with the same data
	// directory, for its secret key.
	e, dump, errb := testEnv(nil, "")
	if code := run(ctx, e, []string{"export", "--data", old.dir}); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errb)
	}
	counts := map[string]int{}
	for line := range strings.Lines(dump.String()) {
		var r store.Record
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("export wrote %q: %v", line, err)
		}
		counts[r.Kind]++
	}
	for kind, want := range map[string]int{store.KindAPIKey: 2, store.KindEndpoint: 1, store.KindSource: 1, store.KindEvent: 2, store.KindDelivery: 2, store.KindAttempt: 2} {
		if counts[kind] < want {
			t.Errorf("export: %d %s records, want at least %d", counts[kind], kind, want)
		}
	}
	if strings.Contains(dump.String(), ep.Secret) || strings.Contains(dump.String(), "gh-secret") {
		t.Error("the dump holds an endpoint or source secret in clear")
	}
	e, _, errb = testEnv(nil, dump.String())
	if code := run(ctx, e, []string{"import", "--database", dbURL, "--data", old.dir}); code != 0 {
		t.Fatalf("import: exit %d: %s", code, errb)
	}
	// A second import into the same database is refused.
	e, _, errb = testEnv(nil, dump.String())
	if code := run(ctx, e, []string{"import", "--database", dbURL, "--data", old.dir}); code != 1 || !strings.Contains(errb.String(), "not empty") {
		t.Errorf("second import: exit %d: %s", code, errb)
	}
	// Without the secret key, import refuses to start.
	e, _, errb = testEnv(nil, dump.String())
	if code := run(ctx, e, []string{"import", "--database", dbURL, "--data", t.TempDir()}); code != 2 || !strings.Contains(errb.String(), "secret key") {
		t.Errorf("import without the key: exit %d: %s", code, errb)
	}

	// Serve the PostgreSQL database with the old data directory's keys.
	failing.Store(false)
	svc := startServeWith(t, old.dir, map[string]string{"HOOKRELAY_ADMIN_KEY": "hr_test_another_admin_key_0123"},
		"--database", dbURL, "--retry-schedule", "4s,4s,4s,4s,4s,4s")
	if strings.Contains(svc.stderr.String(), "created the admin API key") {
		t.Errorf("serve created an admin key on an imported database: %s", svc.stderr)
	}
	var eps struct {
		Data []client.Endpoint `json:"data"`
	}
	mustCall(t, 200, svc.url, k.Key, "GET", "/api/v1/endpoints", "", &eps)
	if len(eps.Data) != 1 || eps.Data[0].ID != ep.ID || eps.Data[0].Description != "moved" {
		t.Fatalf("endpoints after the move: %+v", eps.Data)
	}
	// The source's secret, sealed on SQLite, verifies GitHub's signature on
	// PostgreSQL; a tampered body is refused.
	gh, _ := signature.Lookup("github")
	push := []byte(`{"ref":"refs/heads/main"}`)
	sig, err := gh.Sign(signature.Message{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Payload: push}, "gh-secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		body []byte
		want int
	}{{push, http.StatusAccepted}, {append(push[:len(push):len(push)], ' '), http.StatusUnauthorized}} {
		req, _ := http.NewRequest("POST", svc.url+"/in/github", strings.NewReader(string(tc.body)))
		req.Header = sig.Header.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("inbound webhook to the moved source (%d bytes): %d, want %d", len(tc.body), resp.StatusCode, tc.want)
		}
	}
	got := waitDelivery(t, svc.url, k.Key, d2.ID, "delivered", func(d client.Delivery) bool { return d.Status == "succeeded" })
	if got.AttemptCount != 2 || len(got.Attempts) != 2 || got.Attempts[0].StatusCode != 503 {
		t.Errorf("delivery 2 after the move: %d attempts %+v; want the 503 from SQLite, then a success", got.AttemptCount, got.Attempts)
	}
	var h1 client.Delivery
	mustCall(t, 200, svc.url, k.Key, "GET", "/api/v1/deliveries/"+d1.ID, "", &h1)
	if h1.Status != "succeeded" || len(h1.Attempts) != 1 {
		t.Errorf("delivery 1's history after the move: %+v", h1)
	}
	bodies, errs := rc.received()
	if len(errs) > 0 {
		t.Errorf("signatures that did not verify with the endpoint's secret: %v", errs)
	}
	if len(bodies) != 2 || string(bodies[1]) != `{"n":2}` {
		t.Errorf("receiver got %q", bodies)
	}

	// The migrate command reports the imported database as up to date.
	e, out, errb := testEnv(nil, "")
	if code := run(ctx, e, []string{"migrate", "--status", "--database", dbURL}); code != 0 || !strings.Contains(out.String(), "00001") {
		t.Errorf("migrate --status: exit %d: %s%s", code, out, errb)
	}
}

// startServeWith runs "hookrelay serve" in this process with its data in
// dir and the given environment, and waits until /healthz answers 200.
func startServeWith(t *testing.T, dir string, vars map[string]string, extra ...string) *liveService {
	t.Helper()
	s := &liveService{key: vars["HOOKRELAY_ADMIN_KEY"], dir: dir, done: make(chan int, 1)}
	e, _, stderr := testEnv(vars, "")
	s.stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--allow-private-networks", "--log-level", "warn"}, extra...)
	go func() { s.done <- run(ctx, e, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(40 * time.Second):
			t.Error("serve did not stop")
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.url == "" {
			if m := listeningLine.FindStringSubmatch(stderr.String()); m != nil {
				s.url = m[1]
			}
		}
		if s.url != "" {
			if resp, err := http.Get(s.url + "/healthz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return s
				}
			}
		}
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited with %d: %s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not become healthy within 30s: %s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
