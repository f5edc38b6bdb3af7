package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// TestEventsErase: `events erase ID` erases the payload, cancels the
// pending delivery and leaves the metadata for `events get`.
func TestEventsErase(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	// A receiver that fails, echoing the payload: the delivery stays
	// pending, its next attempt an hour away.
	got1 := make(chan struct{}, 8)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("bad email alice@example.com"))
		got1 <- struct{}{}
	}))
	defer recv.Close()
	var ep client.Endpoint
	out := svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--retry-schedule", "1h", "--json")
	if err := json.Unmarshal([]byte(out), &ep); err != nil {
		t.Fatalf("endpoints create: %v: %s", err, out)
	}
	var ev client.Event
	out = svc.mustCLI(t, `{"email":"alice@example.com"}`+"\n", "events", "send", "--type", "user.updated", "--json")
	if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Deliveries == nil || *ev.Deliveries != 1 {
		t.Fatalf("events send: %v: %s", err, out)
	}
	select {
	case <-got1:
	case <-time.After(30 * time.Second): // a failsafe, not a wait for the outcome
		t.Fatal("the first attempt never arrived")
	}
	if out := svc.mustCLI(t, "", "events", "erase", ev.ID); !strings.Contains(out, "erased "+ev.ID) {
		t.Fatalf("events erase: %s", out)
	}
	var got client.Event
	out = svc.mustCLI(t, "", "events", "get", ev.ID, "--json")
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.ErasedAt == nil || got.Payload != nil || got.Type != "user.updated" {
		t.Fatalf("events get after erasing: %v: %s", err, out)
	}
	if out := svc.mustCLI(t, "", "events", "get", ev.ID); strings.Contains(out, "alice") || !strings.Contains(out, "erased") {
		t.Fatalf("events get after erasing: %s", out)
	}
	out = svc.mustCLI(t, "", "deliveries", "list", "--event", ev.ID, "--status", "canceled", "--json")
	if !strings.Contains(out, ev.ID) || strings.Contains(out, "alice") {
		t.Fatalf("the pending delivery is not canceled, or its attempt not erased: %s", out)
	}
	if _, errs, code := svc.cli(t, nil, "", "events", "erase", "evt_missing"); code == 0 {
		t.Fatalf("erasing an unknown event succeeded: %s", errs)
	}
}
