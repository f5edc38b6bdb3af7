package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// TestReplaysEndToEnd: deliveries fail at a receiver; `hookrelay replays
// create` starts a background job under a rate cap that the serve process
// runs to the end; each failed delivery arrives once more, exactly once,
// and the job's progress and state show through `replays get` and `list`.
func TestReplaysEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startServe(t, "--retry-schedule", "1ms", "--max-replay-rate", "50")
	var failing atomic.Bool
	failing.Store(true)
	got := make(chan string, 64)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		got <- string(b)
	}))
	defer recv.Close()
	var ep client.Endpoint
	if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--json")), &ep); err != nil {
		t.Fatal(err)
	}
	const n = 3
	for i := range n {
		svc.mustCLI(t, fmt.Sprintf(`{"n":%d}`, i)+"\n", "events", "send", "--type", "order.created")
	}
	svc.mustCLI(t, `{"other":true}`+"\n", "events", "send", "--type", "user.created")
	// Each call is a round trip to the server: the loop waits on it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var l struct{ Data []client.Delivery }
		if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "deliveries", "list", "--endpoint", ep.ID, "--status", "failed", "--json")), &l); err != nil {
			t.Fatal(err)
		}
		if len(l.Data) == n+1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries failed after 30s, want %d", len(l.Data), n+1)
		}
	}
	failing.Store(false)

	if _, errs, code := svc.cli(t, nil, "", "replays", "create", "--kind", "failed", "--since", "1h", "--rate", "51"); code == 0 || !strings.Contains(errs, "max-replay-rate") {
		t.Fatalf("a rate above --max-replay-rate: exit %d: %s", code, errs)
	}
	var j client.ReplayJob
	out := svc.mustCLI(t, "", "replays", "create", "--kind", "failed", "--endpoint", ep.ID, "--since", "1h", "--event-type", "order.*", "--rate", "2", "--json")
	if err := json.Unmarshal([]byte(out), &j); err != nil || j.State != "queued" || j.Rate != 2 {
		t.Fatalf("replays create: %v: %s", err, out)
	}
	var bodies []string
	for len(bodies) < n {
		select {
		case b := <-got:
			bodies = append(bodies, b)
		case <-time.After(30 * time.Second): // a failsafe, not a wait for the outcome
			t.Fatalf("received %v, want %d replayed deliveries", bodies, n)
		}
	}
	slices.Sort(bodies)
	if want := []string{`{"n":0}`, `{"n":1}`, `{"n":2}`}; !slices.Equal(bodies, want) {
		t.Fatalf("replayed %v, want %v", bodies, want)
	}
	for {
		if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "replays", "get", j.ID, "--json")), &j); err != nil {
			t.Fatal(err)
		}
		if j.State == "succeeded" {
			break
		}
		if j.State != "queued" && j.State != "running" || time.Now().After(deadline.Add(time.Minute)) {
			t.Fatalf("job = %+v", j)
		}
	}
	if j.Counts.Queued != n || j.Counts.Scanned != n+1 || j.StartedAt == nil || j.FinishedAt == nil {
		t.Fatalf("finished job = %+v; want %d queued of %d scanned", j, n, n+1)
	}
	if out := svc.mustCLI(t, "", "replays", "list"); !strings.Contains(out, j.ID) || !strings.Contains(out, "succeeded") {
		t.Fatalf("replays list: %s", out)
	}
	if out := svc.mustCLI(t, "", "replays", "get", j.ID); !strings.Contains(out, "queued") {
		t.Fatalf("replays get: %s", out)
	}
	if _, errs, code := svc.cli(t, nil, "", "replays", "cancel", j.ID); code == 0 || !strings.Contains(errs, "succeeded already") {
		t.Fatalf("cancel a finished job: exit %d: %s", code, errs)
	}
	// The synchronous replay takes the same filters.
	if out := svc.mustCLI(t, "", "deliveries", "replay", "--endpoint", ep.ID, "--since", "1h", "--until", "0s",
		"--event-type", "user.*", "--status", "failed"); !strings.HasPrefix(out, "1 failed deliveries") {
		t.Fatalf("deliveries replay user.*: %s", out)
	}
	select {
	case b := <-got:
		if b != `{"other":true}` {
			t.Fatalf("deliveries replay user.* sent %s", b)
		}
	case <-time.After(30 * time.Second): // a failsafe
		t.Fatal("the user.created delivery was not replayed")
	}
	select {
	case b := <-got:
		t.Fatalf("an extra request arrived: %s", b)
	default:
	}
}
