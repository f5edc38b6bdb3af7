package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// chanReceiver sends the body of every webhook it gets on a channel.
type chanReceiver chan []byte

func (c chanReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c <- b
}

// TestServePayloadFilters: an event goes only to the endpoints whose
// payload filter it matches, numbers compared exactly; one filtered out
// gets no delivery at all, so no failure either.
func TestServePayloadFilters(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	above, atMost := make(chanReceiver, 4), make(chanReceiver, 4)
	srvAbove, srvAtMost := httptest.NewServer(above), httptest.NewServer(atMost)
	defer srvAbove.Close()
	defer srvAtMost.Close()

	create := func(url, filter string) client.Endpoint {
		t.Helper()
		var ep client.Endpoint
		out := svc.mustCLI(t, "", "endpoints", "create", "--url", url, "--filter", filter, "--json")
		if err := json.Unmarshal([]byte(out), &ep); err != nil {
			t.Fatalf("endpoints create: %v: %s", err, out)
		}
		return ep
	}
	epAbove := create(srvAbove.URL, `{"order": {"amount": {"$gt": 12345678901234567890}}}`)
	epAtMost := create(srvAtMost.URL, `{"order.amount": {"$lte": 12345678901234567890}}`)
	if string(epAbove.Filter) != `{"order":{"amount":{"$gt":12345678901234567890}}}` {
		t.Errorf("filter in the response: %s", epAbove.Filter)
	}

	send := func(payload string) {
		t.Helper()
		var ev client.Event
		out := svc.mustCLI(t, payload, "events", "send", "--type", "order.paid", "--json")
		if err := json.Unmarshal([]byte(out), &ev); err != nil || ev.Deliveries == nil || *ev.Deliveries != 1 {
			t.Fatalf("events send %s: want 1 delivery: %v: %s", payload, err, out)
		}
	}
	wait := func(rc chanReceiver, want string) {
		t.Helper()
		select {
		case b := <-rc:
			if string(b) != want {
				t.Fatalf("received %s, want %s", b, want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s never arrived", want)
		}
	}
	big := `{"order": {"amount": 12345678901234567891}}`
	send(big)
	wait(above, big)
	equal := `{"order": {"amount": 12345678901234567890.00}}`
	send(equal)
	wait(atMost, equal)

	// Each endpoint has exactly its one delivery, succeeded: the event
	// filtered out made none (deliveries are made with the event).
	for _, ep := range []client.Endpoint{epAbove, epAtMost} {
		var dl struct {
			Data []client.Delivery `json:"data"`
		}
		out := svc.mustCLI(t, "", "deliveries", "list", "--endpoint", ep.ID, "--json")
		if err := json.Unmarshal([]byte(out), &dl); err != nil {
			t.Fatal(err)
		}
		if len(dl.Data) != 1 {
			t.Errorf("endpoint %s has %d deliveries, want 1: %s", ep.ID, len(dl.Data), out)
		}
		var got client.Endpoint
		if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "endpoints", "get", ep.ID, "--json")), &got); err != nil {
			t.Fatal(err)
		}
		if got.FailingSince != nil || got.Disabled {
			t.Errorf("endpoint %s counts a failure: %+v", ep.ID, got)
		}
	}

	// test-filter, for scripts: exit 0 on a match, 1 otherwise.
	if out := svc.mustCLI(t, big, "endpoints", "test-filter", epAbove.ID); !strings.Contains(out, "matches") {
		t.Errorf("test-filter: %s", out)
	}
	out, _, code := svc.cli(t, nil, equal, "endpoints", "test-filter", epAbove.ID)
	if code != 1 || !strings.Contains(out, "does not match") {
		t.Errorf("test-filter of a payload filtered out: exit %d: %s", code, out)
	}
	// An invalid filter is refused with the path of the fault.
	_, errs, code := svc.cli(t, nil, "", "endpoints", "update", epAbove.ID, "--filter", `{"order": {"$in": 3}}`)
	if code != 1 || !strings.Contains(errs, "$.order.$in") {
		t.Errorf("invalid filter: exit %d: %s", code, errs)
	}
	// Removing the filter: the endpoint receives everything again.
	var updated client.Endpoint
	if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "endpoints", "update", epAbove.ID, "--filter", "", "--json")), &updated); err != nil || endpointFilter(&updated) != "-" {
		t.Errorf("update --filter '': %v, filter %s", err, updated.Filter)
	}
	send2 := `{"order": {"amount": 1}}`
	var ev client.Event
	if err := json.Unmarshal([]byte(svc.mustCLI(t, send2, "events", "send", "--type", "order.paid", "--json")), &ev); err != nil || *ev.Deliveries != 2 {
		t.Fatalf("after removing the filter: %v, %+v", err, ev)
	}
	wait(above, send2)
	wait(atMost, send2)
}
