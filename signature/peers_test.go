package signature

import (
	"net/http"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// TestPeerLibraries checks interoperability with the Standard Webhooks and
// Svix Go libraries, in both directions.
func TestPeerLibraries(t *testing.T) {
	t.Parallel()
	std := mustLookup(t, "standard")
	secret := secretFor(std)
	now := time.Now()
	payload := []byte(`{"type":"invoice.paid","data":{"amount":1.0,"name":"é"}}`)

	ours, err := std.Sign(Message{ID: "msg_1", Timestamp: now, Payload: payload}, secret)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Verify(ours.Body, ours.Header); err != nil {
		t.Errorf("standardwebhooks.Verify(Sign): %v", err)
	}
	sv, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	svixHeader := http.Header{}
	svixHeader.Set("svix-id", ours.Header.Get("webhook-id"))
	svixHeader.Set("svix-timestamp", ours.Header.Get("webhook-timestamp"))
	svixHeader.Set("svix-signature", ours.Header.Get("webhook-signature"))
	if err := sv.Verify(ours.Body, svixHeader); err != nil {
		t.Errorf("svix.Verify(Sign): %v", err)
	}

	for name, sign := range map[string]func(string, time.Time, []byte) (string, error){
		"standardwebhooks": sw.Sign, "svix": sv.Sign,
	} {
		sig, err := sign("msg_2", now, payload)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", "msg_2")
		h.Set("webhook-timestamp", itoa(now.Unix()))
		h.Set("webhook-signature", sig)
		if err := std.Verify(h, payload, []string{secret}, nil); err != nil {
			t.Errorf("Verify(%s.Sign): %v", name, err)
		}
	}
}
