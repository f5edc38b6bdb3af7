package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func TestSourceLifecycle(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	r := must(t, tb.do(t, "POST", "/api/v1/sources", map[string]any{
		"name": "github", "scheme": "github", "secrets": []string{"gh-secret-1"}, "description": "GitHub org hooks",
		"destinations": []map[string]any{
			{"url": "http://127.0.0.1:9/ci"},
			{"url": "http://127.0.0.1:9/audit", "scheme": "standard"},
		},
	}), http.StatusCreated)
	if bytes.Contains(r.body, []byte("gh-secret-1")) {
		t.Fatalf("the creation response echoes the source's secret: %s", r.body)
	}
	var src sourceJSON
	r.json(t, &src)
	if src.Name != "github" || src.IngestPath != "/in/github" || src.Tenant != "source:github" || src.EventType != "inbound.github" ||
		src.Scheme != "github" || src.DedupeWindowSeconds != 86400 || src.ToleranceSeconds != 0 || len(src.Secrets) != 1 ||
		src.Secret != "" || r.header.Get("Location") != "/api/v1/sources/"+src.ID {
		t.Fatalf("created %+v", src)
	}
	if len(src.Destinations) != 2 {
		t.Fatalf("%d destinations", len(src.Destinations))
	}
	if d := src.Destinations[0]; d.Scheme != "none" || d.Secret != "" || d.Tenant != "source:github" || len(d.Secrets) != 0 {
		t.Errorf("unsigned destination %+v", d)
	}
	if d := src.Destinations[1]; d.Scheme != "standard" || !strings.HasPrefix(d.Secret, "whsec_") {
		t.Errorf("re-signing destination %+v", d)
	}

	wantError(t, tb.do(t, "POST", "/api/v1/sources", map[string]any{"name": "github", "scheme": "github"}),
		http.StatusConflict, CodeConflict, "github")

	// A generated secret is shown once.
	r = must(t, tb.do(t, "POST", "/api/v1/sources", map[string]any{"name": "partner", "scheme": "standard"}), http.StatusCreated)
	var partner sourceJSON
	r.json(t, &partner)
	if !strings.HasPrefix(partner.Secret, "whsec_") {
		t.Fatalf("generated secret %q", partner.Secret)
	}
	for _, path := range []string{"/api/v1/sources/partner", "/api/v1/sources/" + partner.ID, "/api/v1/sources"} {
		if b := must(t, tb.do(t, "GET", path, nil), http.StatusOK).body; bytes.Contains(b, []byte(partner.Secret)) || bytes.Contains(b, []byte("gh-secret-1")) {
			t.Fatalf("GET %s shows a secret: %s", path, b)
		}
	}

	var got sourceJSON
	must(t, tb.do(t, "GET", "/api/v1/sources/github", nil), http.StatusOK).json(t, &got)
	if got.ID != src.ID || len(got.Destinations) != 2 || got.Description != "GitHub org hooks" {
		t.Fatalf("GET by name %+v", got)
	}
	var page struct {
		Data       []sourceJSON `json:"data"`
		NextCursor string       `json:"next_cursor"`
	}
	must(t, tb.do(t, "GET", "/api/v1/sources?limit=1", nil), http.StatusOK).json(t, &page)
	if len(page.Data) != 1 || page.NextCursor == "" {
		t.Fatalf("page %+v", page)
	}

	// PATCH.
	r = must(t, tb.do(t, "PATCH", "/api/v1/sources/"+src.ID, map[string]any{
		"secrets": []string{"gh-secret-2", "gh-secret-1"}, "tolerance_seconds": 60, "slack_challenge": true,
		"zoom_secret": "zoom-token", "description": "changed",
	}), http.StatusOK)
	if bytes.Contains(r.body, []byte("gh-secret")) || bytes.Contains(r.body, []byte("zoom-token")) {
		t.Fatalf("PATCH response shows a secret: %s", r.body)
	}
	r.json(t, &got)
	if len(got.Secrets) != 2 || got.ToleranceSeconds != 60 || !got.SlackChallenge || !got.ZoomValidation || got.Description != "changed" {
		t.Fatalf("patched %+v", got)
	}
	stored, err := tb.store.GetSource(context.Background(), src.ID)
	if err != nil || stored.Secrets[0].Value != "gh-secret-2" || stored.Secrets[1].Value != "gh-secret-1" || stored.ZoomSecret.Value != "zoom-token" {
		t.Fatalf("stored %+v, %v", stored, err)
	}
	must(t, tb.do(t, "PATCH", "/api/v1/sources/github", map[string]any{"zoom_secret": ""}), http.StatusOK).json(t, &got)
	if got.ZoomValidation {
		t.Error("zoom_secret \"\" did not turn the handshake off")
	}
	wantError(t, tb.do(t, "PATCH", "/api/v1/sources/github", map[string]any{"name": "other"}), http.StatusUnprocessableEntity, CodeValidation, "name")
	wantError(t, tb.do(t, "PATCH", "/api/v1/sources/github", map[string]any{"destinations": []any{}}), http.StatusUnprocessableEntity, CodeValidation, "destinations")
	wantError(t, tb.do(t, "PATCH", "/api/v1/sources/github", map[string]any{"secrets": []string{}}), http.StatusUnprocessableEntity, CodeValidation, "secrets")
	wantError(t, tb.do(t, "PATCH", "/api/v1/sources/github", map[string]any{"scheme": "standard"}), http.StatusUnprocessableEntity, CodeValidation, "secrets")
	wantError(t, tb.do(t, "PATCH", "/api/v1/sources/missing", map[string]any{}), http.StatusNotFound, CodeNotFound)

	// Destinations.
	var dest endpointJSON
	must(t, tb.do(t, "POST", "/api/v1/sources/github/destinations", map[string]any{"url": "http://127.0.0.1:9/new", "scheme": "github"}),
		http.StatusCreated).json(t, &dest)
	if dest.Tenant != "source:github" || dest.Scheme != "github" || dest.Secret == "" {
		t.Fatalf("destination %+v", dest)
	}
	wantError(t, tb.do(t, "POST", "/api/v1/sources/github/destinations", map[string]any{"url": "http://127.0.0.1:9/x", "secret": "s"}),
		http.StatusUnprocessableEntity, CodeValidation, "none")

	// Rejections.
	now := time.Now()
	for i, body := range [][]byte{[]byte(`{"a":1}`), {0xff, 0xfe, 0}} {
		if err := tb.store.AddRejection(context.Background(), &store.Rejection{
			ID: store.NewID("rej"), SourceID: src.ID, ReceivedAt: now.Add(time.Duration(i) * time.Millisecond), Reason: "signature mismatch",
			Detail: "d", RemoteAddr: "192.0.2.7:1", Headers: map[string]string{"X-Hub-Signature-256": "sha256=00"},
			Body: body, BodySize: 5000,
		}); err != nil {
			t.Fatal(err)
		}
	}
	var rejs struct {
		Data []rejectionJSON `json:"data"`
	}
	must(t, tb.do(t, "GET", "/api/v1/sources/github/rejections", nil), http.StatusOK).json(t, &rejs)
	if len(rejs.Data) != 2 {
		t.Fatalf("%d rejections", len(rejs.Data))
	}
	var text, bin int
	for _, rj := range rejs.Data {
		switch {
		case rj.Body != nil && *rj.Body == `{"a":1}`:
			text++
		case rj.BodyBase64 != nil && *rj.BodyBase64 == base64.StdEncoding.EncodeToString([]byte{0xff, 0xfe, 0}):
			bin++
		}
		if !rj.BodyTruncated || rj.Reason != "signature mismatch" || rj.Headers["X-Hub-Signature-256"] == "" {
			t.Errorf("rejection %+v", rj)
		}
	}
	if text != 1 || bin != 1 {
		t.Errorf("rejection bodies: %d text, %d base64", text, bin)
	}

	// The reserved tenants.
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/x", "tenant": "source:github"}),
		http.StatusUnprocessableEntity, CodeValidation, "reserved")
	wantError(t, tb.do(t, "POST", "/api/v1/events", map[string]any{"type": "inbound.github", "tenant": "source:github", "payload": map[string]any{}}),
		http.StatusUnprocessableEntity, CodeValidation, "reserved")

	// DELETE takes the destinations along.
	must(t, tb.do(t, "DELETE", "/api/v1/sources/github", nil), http.StatusNoContent)
	wantError(t, tb.do(t, "GET", "/api/v1/sources/github", nil), http.StatusNotFound, CodeNotFound)
	var eps struct {
		Data []endpointJSON `json:"data"`
	}
	must(t, tb.do(t, "GET", "/api/v1/endpoints?tenant=source:github", nil), http.StatusOK).json(t, &eps)
	if len(eps.Data) != 0 {
		t.Errorf("%d destinations left after DELETE", len(eps.Data))
	}
	wantError(t, tb.do(t, "DELETE", "/api/v1/sources/github", nil), http.StatusNotFound, CodeNotFound)
}

func TestSourceValidation(t *testing.T) {
	t.Parallel()
	tb := setup(t, func(c *Config) { c.AllowPrivateNetworks = false })
	cases := []struct {
		body map[string]any
		want string
	}{
		{map[string]any{"name": "Bad Name", "scheme": "github"}, "name"},
		{map[string]any{"name": "-x", "scheme": "github"}, "name"},
		{map[string]any{"name": "ok"}, "scheme is required"},
		{map[string]any{"name": "ok", "scheme": "nope"}, "unknown scheme"},
		{map[string]any{"name": "ok", "scheme": "standard", "secrets": []string{"not base64!"}}, "secrets[0]"},
		{map[string]any{"name": "ok", "scheme": "github", "secrets": []string{""}}, "secrets[0]"},
		{map[string]any{"name": "ok", "scheme": "stripe", "dedupe_window_seconds": 60}, "at least 600"},
		{map[string]any{"name": "ok", "scheme": "github", "tolerance_seconds": -1}, "tolerance_seconds"},
		{map[string]any{"name": "ok", "scheme": "github", "destinations": []map[string]any{{"url": "http://127.0.0.1/x"}}}, "destinations[0]"},
		{map[string]any{"name": "ok", "scheme": "github", "destinations": []map[string]any{{"url": "https://example.com/x", "scheme": "nope"}}}, "destinations[0]"},
		{map[string]any{"name": "ok", "scheme": "custom", "custom_scheme": map[string]any{"name": "acme", "header": "X-Sig", "bogus": 1}}, "bogus"},
	}
	for _, c := range cases {
		wantError(t, tb.do(t, "POST", "/api/v1/sources", c.body), http.StatusUnprocessableEntity, CodeValidation, c.want)
	}
	// Nothing was created by the failures.
	var page struct {
		Data []sourceJSON `json:"data"`
	}
	must(t, tb.do(t, "GET", "/api/v1/sources", nil), http.StatusOK).json(t, &page)
	if len(page.Data) != 0 {
		t.Fatalf("%d sources created by invalid requests", len(page.Data))
	}
	var src sourceJSON
	must(t, tb.do(t, "POST", "/api/v1/sources", map[string]any{
		"name": "acme", "scheme": "custom", "secrets": []string{"k"},
		"custom_scheme": map[string]any{"name": "acme", "header": "X-Acme-Signature", "prefix": "sha256="},
	}), http.StatusCreated).json(t, &src)
	if src.Scheme != "custom" || !bytes.Contains(src.CustomScheme, []byte("X-Acme-Signature")) {
		t.Fatalf("custom source %+v", src)
	}
}

// TestInboundEventPayloads: GET /api/v1/events/{id} shows an inbound
// event's body that is not JSON as a string, text or base64.
func TestInboundEventPayloads(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	for _, c := range []struct {
		payload  []byte
		encoding string
		want     string
	}{
		{[]byte(`{"a": 1.0}`), "", `"payload":{"a": 1.0}`},
		{[]byte("token=a&text=b+c"), "text", `"payload":"token=a&text=b+c"`},
		{[]byte{0xff, 0, 'x'}, "base64", `"payload":"/wB4"`},
	} {
		ev := &store.Event{ID: store.NewID("evt"), Tenant: "source:x", Type: "inbound.x", Payload: c.payload,
			ContentType: "application/x-www-form-urlencoded", CreatedAt: time.Now()}
		if _, _, err := tb.store.CreateEvent(context.Background(), ev, time.Time{}); err != nil {
			t.Fatal(err)
		}
		r := must(t, tb.do(t, "GET", "/api/v1/events/"+ev.ID, nil), http.StatusOK)
		var got eventJSON
		r.json(t, &got)
		if got.PayloadEncoding != c.encoding || got.ContentType != "application/x-www-form-urlencoded" || !bytes.Contains(r.body, []byte(c.want)) {
			t.Errorf("GET event %q: %s", c.payload, r.body)
		}
	}
}

// TestUnsignedDestinationSecret: a destination of scheme none has no
// secret, so rotating one is refused with 409 and a message that says so
// (it used to be a 422 "unknown scheme"), and nothing changes; PATCH
// refuses a secret without a scheme, and a scheme without a secret, takes
// both together, and turns a destination (only) back to scheme none.
func TestUnsignedDestinationSecret(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	var src sourceJSON
	must(t, tb.do(t, "POST", "/api/v1/sources", map[string]any{
		"name": "github", "scheme": "github", "secrets": []string{"gh-secret"},
		"destinations": []map[string]any{{"url": "http://127.0.0.1:9/ci"}},
	}), http.StatusCreated).json(t, &src)
	dest := src.Destinations[0]
	if dest.Scheme != "none" {
		t.Fatalf("destination scheme %q, want none", dest.Scheme)
	}
	path := "/api/v1/endpoints/" + dest.ID

	for _, body := range []string{"", `{"overlap_seconds":0}`, `{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}`} {
		wantError(t, tb.do(t, "POST", path+"/rotate-secret", body), http.StatusConflict, CodeConflict, `scheme "none"`, "no secret to rotate")
	}
	wantError(t, tb.do(t, "PATCH", path, map[string]any{"secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}),
		http.StatusUnprocessableEntity, CodeValidation, "unsigned")
	stored, err := tb.store.GetEndpoint(context.Background(), dest.ID)
	if err != nil || stored.Scheme != "none" || len(stored.Secrets) != 0 {
		t.Fatalf("after the refusals: %+v, %v", stored, err)
	}

	// A scheme and a secret together make it re-sign; then it rotates.
	var got endpointJSON
	must(t, tb.do(t, "PATCH", path, map[string]any{"scheme": "standard", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}), http.StatusOK).json(t, &got)
	if got.Scheme != "standard" || len(got.Secrets) != 1 {
		t.Fatalf("re-signing destination %+v", got)
	}
	must(t, tb.do(t, "POST", path+"/rotate-secret", nil), http.StatusOK).json(t, &got)
	if len(got.Secrets) != 2 {
		t.Errorf("after rotation %d secrets, want 2", len(got.Secrets))
	}

	// Back to unsigned: the secrets go. Scheme none is for destinations
	// only, and takes no secret.
	wantError(t, tb.do(t, "PATCH", path, map[string]any{"scheme": "none", "secret": "x"}), http.StatusUnprocessableEntity, CodeValidation, "takes no secret")
	must(t, tb.do(t, "PATCH", path, map[string]any{"scheme": "none"}), http.StatusOK).json(t, &got)
	if stored, err := tb.store.GetEndpoint(context.Background(), dest.ID); err != nil || got.Scheme != "none" || stored.Scheme != "none" || len(stored.Secrets) != 0 {
		t.Errorf("back to unsigned: %+v, %+v, %v", got, stored, err)
	}
	// A scheme alone makes it re-sign with a generated secret, shown once
	// (as the dashboard does).
	must(t, tb.do(t, "PATCH", path, map[string]any{"scheme": "github"}), http.StatusOK).json(t, &got)
	if got.Scheme != "github" || got.Secret == "" || len(got.Secrets) != 1 {
		t.Errorf("re-signing with a generated secret: %+v", got)
	}
	ep := tb.createEndpoint(t, map[string]any{})
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, map[string]any{"scheme": "none"}), http.StatusUnprocessableEntity, CodeValidation, "only for the destinations")
}
