package delivery

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// TestEventContentTypeAndHeaders: an event with a content type and headers
// (as the inbound gateway makes them) is sent with them, unsigned to a
// "none" endpoint, re-signed to another, whose signature headers win over
// the event's; an ordinary event is still application/json without extra
// headers.
func TestEventContentTypeAndHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{AllowPrivateNetworks: true})
	rc := newReceiver(t, nil)
	const tenant = "source:forms"
	b.endpoint(t, rc.URL+"/plain", schemes.None, nil, func(e *store.Endpoint) { e.Tenant = tenant })
	b.endpoint(t, rc.URL+"/signed", "github", []string{"hop-secret"}, func(e *store.Endpoint) { e.Tenant = tenant })
	b.start(t)

	body := []byte("token=a&text=b+c\x00\xff")
	ev := &store.Event{
		Tenant: tenant, Type: "inbound.forms", Payload: body,
		ContentType: "application/x-www-form-urlencoded",
		Headers: map[string]string{
			"X-Slack-Signature":   "v0=vendor",
			"X-Hub-Signature-256": "sha256=vendor", // replaced by the re-signature
			"X-Hookrelay-Source":  "forms",
			"Content-Length":      "1", // never forwarded
			"Connection":          "close",
		},
	}
	_, ds, err := b.store.CreateEvent(context.Background(), ev, time.Time{})
	if err != nil || len(ds) != 2 {
		t.Fatalf("CreateEvent: %v, %d deliveries", err, len(ds))
	}
	b.engine.Notify()
	for _, d := range ds {
		b.waitStatus(t, d.ID, store.StatusSucceeded, 10*time.Second)
	}
	reqs := rc.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	gs, _ := signature.Lookup("github")
	var unsigned, resigned int
	for _, r := range reqs {
		if !bytes.Equal(r.body, body) {
			t.Fatalf("body %q, want %q", r.body, body)
		}
		h := r.header
		if h.Get("Content-Type") != "application/x-www-form-urlencoded" || h.Get("X-Slack-Signature") != "v0=vendor" ||
			h.Get("X-Hookrelay-Source") != "forms" || h.Get("User-Agent") != UserAgent || h.Get("Connection") != "" {
			t.Errorf("headers %v", h)
		}
		if h.Get("X-Hub-Signature-256") == "sha256=vendor" {
			unsigned++ // the "none" endpoint: the event's header as it is
		} else if err := gs.Verify(h, r.body, []string{"hop-secret"}, nil); err != nil {
			t.Errorf("re-signed request does not verify: %v", err)
		} else {
			resigned++
		}
	}
	if unsigned != 1 || resigned != 1 {
		t.Errorf("%d unsigned and %d re-signed requests, want 1 and 1", unsigned, resigned)
	}
	for _, d := range ds {
		as := b.attempts(t, d.ID)
		if len(as) != 1 || as[0].RequestHeaders["Content-Type"] != "application/x-www-form-urlencoded" {
			t.Errorf("attempts of %s: %+v", d.ID, as)
		}
	}

	// An ordinary event.
	b.endpoint(t, rc.URL+"/json", "standard", []string{"whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, nil)
	_, ds = b.accept(t, "invoice.paid", `{"a":1}`)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 10*time.Second)
	last := rc.requests()[2]
	if last.header.Get("Content-Type") != "application/json" || last.header.Get("X-Hookrelay-Source") != "" {
		t.Errorf("ordinary event sent with %v", last.header)
	}
}
