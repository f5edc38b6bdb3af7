package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// TestReplayMissingEndToEnd: an endpoint disabled while events are sent
// gets nothing meanwhile; enabled again and replayed, it receives each
// missed event exactly once, signed, and a second replay sends nothing.
func TestReplayMissingEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	rc := &signedReceiver{secret: make(chan string, 1), got: make(chan []byte, 32)}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	var ep client.Endpoint
	out := svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--json")
	if err := json.Unmarshal([]byte(out), &ep); err != nil || ep.Secret == "" {
		t.Fatalf("endpoints create: %v: %s", err, out)
	}
	rc.secret <- ep.Secret

	send := func(n int) string {
		t.Helper()
		out := svc.mustCLI(t, fmt.Sprintf(`{"n":%d}`, n)+"\n", "events", "send", "--type", "order.created", "--json")
		var ev client.Event
		if err := json.Unmarshal([]byte(out), &ev); err != nil {
			t.Fatalf("events send: %v: %s", err, out)
		}
		return ev.ID
	}
	// receive waits for n requests and returns their bodies, sorted.
	receive := func(n int) []string {
		t.Helper()
		var got []string
		for len(got) < n {
			select {
			case b := <-rc.got:
				got = append(got, string(b))
			case <-time.After(30 * time.Second): // a failsafe, not a wait for the outcome
				t.Fatalf("received %v, want %d requests", got, n)
			}
		}
		slices.Sort(got)
		return got
	}

	send(0)
	if got := receive(1); got[0] != `{"n":0}` {
		t.Fatalf("before disabling: %v", got)
	}
	svc.mustCLI(t, "", "endpoints", "update", ep.ID, "--disable")
	var missed []string
	for i := 1; i <= 3; i++ {
		id := send(i)
		missed = append(missed, id)
		// Stored although no endpoint took it.
		svc.mustCLI(t, "", "events", "get", id)
	}
	svc.mustCLI(t, "", "endpoints", "update", ep.ID, "--enable")
	send(4)
	if got := receive(1); got[0] != `{"n":4}` {
		t.Fatalf("after enabling: %v, want only the new event", got)
	}

	out = svc.mustCLI(t, "", "deliveries", "replay-missing", "--endpoint", ep.ID, "--since", "1h")
	if !strings.HasPrefix(out, "3 missed events") {
		t.Fatalf("replay-missing: %s", out)
	}
	if got, want := receive(3), []string{`{"n":1}`, `{"n":2}`, `{"n":3}`}; !slices.Equal(got, want) {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	out = svc.mustCLI(t, "", "deliveries", "replay-missing", "--endpoint", ep.ID, "--since", "1h", "--json")
	var again struct{ Created int }
	if err := json.Unmarshal([]byte(out), &again); err != nil || again.Created != 0 {
		t.Fatalf("second replay-missing: %v: %s", err, out)
	}
	// Each event has exactly one delivery to the endpoint, whose one
	// request arrived (its result may still be on its way to the store).
	var dl struct {
		Data []client.Delivery `json:"data"`
	}
	out = svc.mustCLI(t, "", "deliveries", "list", "--endpoint", ep.ID, "--json")
	if err := json.Unmarshal([]byte(out), &dl); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, d := range dl.Data {
		seen[d.EventID]++
		if d.Status == "failed" || d.Status == "canceled" {
			t.Errorf("delivery %s of %s is %s", d.ID, d.EventID, d.Status)
		}
	}
	if len(dl.Data) != 5 || len(seen) != 5 {
		t.Fatalf("%d deliveries for %d events, want 5 and 5: %s", len(dl.Data), len(seen), out)
	}
	for _, id := range missed {
		if seen[id] != 1 {
			t.Errorf("missed event %s has %d deliveries, want 1", id, seen[id])
		}
	}
	select {
	case b := <-rc.got:
		t.Fatalf("an extra request arrived: %s", b)
	default:
	}
	if out := svc.mustCLI(t, "", "endpoints", "stats", ep.ID); !strings.Contains(out, "hour") || !strings.Contains(out, "day") {
		t.Fatalf("endpoints stats: %s", out)
	}
}
