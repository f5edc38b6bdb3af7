package inbound

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// schemeCase is a sender of one scheme, signed by an independent signer.
type schemeCase struct {
	job         string // the signer's scheme
	scheme      string // the source's scheme
	secret      string // the signer's secret
	verify      string // the source's secret, if not secret
	contentType string
	body        string
	vendorHdr   string // a header the vendor sends that must be forwarded
}

// whsec and whsk are Standard Webhooks keys for the tests.
var (
	whsec = "whsec_" + base64.StdEncoding.EncodeToString([]byte("inbound-gateway-test-key-32byte!"))
	whsk  = "whsk_" + base64.StdEncoding.EncodeToString([]byte("inbound-gateway-ed25519-seed-32b"))
)

// payload is JSON that re-serializers would change: a float written 1.0,
// non-ASCII text, spacing.
func payload(id string) string {
	return `{"id": "` + id + `", "type": "test.event", "amount": 1.0, "name": "é 日本 😀", "nested": {"b": [1, 2, {"c": null}]}}`
}

func schemeCases(t *testing.T, tool string) []schemeCase {
	t.Helper()
	whpk, err := signature.PublicKey(whsk)
	if err != nil {
		t.Fatal(err)
	}
	cases := []schemeCase{
		{job: "github", scheme: "github", secret: "gh secret é", vendorHdr: "X-Github-Event"},
		{job: "shopify", scheme: "shopify", secret: "shpss_0123456789", vendorHdr: "X-Shopify-Topic"},
		{job: "stripe", scheme: "stripe", secret: "whsec_stripe_secret_used_as_text"},
		{job: "slack", scheme: "slack", secret: "8f742231b10e8888abcd99yyyzzz85a5",
			contentType: "application/x-www-form-urlencoded",
			body:        "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1&command=%2Fdeploy&text=ship+it+%C3%A9&n=" + uniqueID("n")},
		{job: "standard", scheme: "standard", secret: whsec, vendorHdr: "Webhook-Id"},
	}
	if tool == "node" {
		cases = append(cases,
			schemeCase{job: "standard-v1a", scheme: "standard", secret: whsk, verify: whpk},
			schemeCase{job: "plextrac", scheme: "plextrac", secret: "plextrac secret"},
		)
	} else {
		cases = append(cases,
			schemeCase{job: "teak", scheme: "teak", secret: "teak secret"},
			schemeCase{job: "teak-pretty", scheme: "teak", secret: "teak secret"},
		)
	}
	for i := range cases {
		c := &cases[i]
		if c.body == "" {
			c.body = payload(uniqueID("evt"))
			c.contentType = "application/json"
		}
		if c.verify == "" {
			c.verify = c.secret
		}
	}
	return cases
}

// tamper changes one character in the middle of a signature header value.
func tamper(v string) string {
	b := []byte(v)
	for i := len(b) / 2; i < len(b); i++ {
		switch c := b[i]; {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
			b[i]++
			return string(b)
		case c == '9', c == 'z', c == 'Z':
			b[i]--
			return string(b)
		}
	}
	panic("nothing to tamper with in " + v)
}

// TestIndependentSigners: for every scheme, requests signed by Node.js
// (node:crypto) and Python (hmac) from the vendors' documentation pass
// through /in/{source} and reach a loopback destination byte for byte, with
// their content type, their vendor headers and X-Hookrelay-Verified; the
// same requests with a byte of the body or of the signature changed get
// 401 and are kept as rejections, credentials redacted.
func TestIndependentSigners(t *testing.T) {
	t.Parallel()
	for _, toolName := range []string{"node", "python3"} {
		t.Run(toolName, func(t *testing.T) {
			t.Parallel()
			tool(t, toolName)
			b := setup(t, nil)
			dest := newSink(t)
			cases := schemeCases(t, toolName)
			now := time.Now().Unix()
			jobs := make([]signJob, len(cases))
			for i, c := range cases {
				jobs[i] = signJob{Scheme: c.job, Secret: c.secret, ID: uniqueID("msg"), TS: now, BodyB64: b64(c.body)}
			}
			sigs := signWith(t, toolName, jobs)
			sources := make([]*store.Source, len(cases))
			for i, c := range cases {
				sources[i] = b.source(fmt.Sprintf("%s-%d", c.job, i), c.scheme, []string{c.verify}, dest.srv.URL, nil)
			}
			creds := http.Header{"Authorization": {"Bearer do-not-forward"}, "Cookie": {"session=do-not-forward"},
				"X-Gitlab-Token": {"do-not-forward"}, "X-Hookrelay-Verified": {"spoofed"}}
			for i, c := range cases {
				h := sigs[i].header.Clone()
				for k, v := range creds {
					h[k] = v
				}
				r := b.post(sources[i].Name, sigs[i].body, c.contentType, h)
				if r.status != http.StatusAccepted {
					t.Fatalf("%s: status %d %q, want 202", c.job, r.status, r.body)
				}
				r.id(t)
			}
			got := dest.wait(t, len(cases))
			for i, c := range cases {
				var found *received
				for j := range got {
					if bytes.Equal(got[j].body, sigs[i].body) {
						found = &got[j]
					}
				}
				if found == nil {
					t.Fatalf("%s: the destination never received the body %q", c.job, sigs[i].body)
				}
				h := found.header
				if h.Get("Content-Type") != c.contentType {
					t.Errorf("%s: Content-Type %q, want %q", c.job, h.Get("Content-Type"), c.contentType)
				}
				if h.Get(HeaderVerified) != c.scheme || h.Get(HeaderSource) != sources[i].Name {
					t.Errorf("%s: %s %q, %s %q", c.job, HeaderVerified, h.Get(HeaderVerified), HeaderSource, h.Get(HeaderSource))
				}
				if c.vendorHdr != "" && h.Get(c.vendorHdr) == "" {
					t.Errorf("%s: vendor header %s not forwarded", c.job, c.vendorHdr)
				}
				for k := range creds {
					if k != HeaderVerified && h.Get(k) != "" {
						t.Errorf("%s: credential header %s forwarded", c.job, k)
					}
				}
			}

			// Tampered requests.
			for i, c := range cases {
				s, _ := signature.Lookup(c.scheme)
				sigHdr := s.Headers()[len(s.Headers())-1]
				body := bytes.Replace(sigs[i].body, []byte("e"), []byte("f"), 1)
				if bytes.Equal(body, sigs[i].body) {
					t.Fatalf("%s: cannot tamper with %q", c.job, body)
				}
				h := sigs[i].header.Clone()
				h.Set("Authorization", "Bearer do-not-keep")
				if r := b.post(sources[i].Name, body, c.contentType, h); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "signature mismatch") {
					t.Errorf("%s: tampered body: %d %q, want 401 signature mismatch", c.job, r.status, r.body)
				}
				h = sigs[i].header.Clone()
				for k, v := range h {
					if http.CanonicalHeaderKey(k) == http.CanonicalHeaderKey(sigHdr) {
						h[k] = []string{tamper(v[0])}
					}
				}
				if r := b.post(sources[i].Name, sigs[i].body, c.contentType, h); r.status != http.StatusUnauthorized {
					t.Errorf("%s: tampered signature: %d %q, want 401", c.job, r.status, r.body)
				}
				rs := b.rejections(sources[i])
				if len(rs) != 2 {
					t.Fatalf("%s: %d rejections stored, want 2", c.job, len(rs))
				}
				for _, rj := range rs {
					if rj.Reason == "" || rj.Detail == "" || rj.RemoteAddr == "" || len(rj.Body) == 0 {
						t.Errorf("%s: rejection %+v", c.job, rj)
					}
					if a := rj.Headers["Authorization"]; a != "" && a != "[redacted]" {
						t.Errorf("%s: rejection kept Authorization %q", c.job, a)
					}
					if v := rj.Headers[http.CanonicalHeaderKey(sigHdr)]; v == "" || v == "[redacted]" {
						t.Errorf("%s: rejection lost the signature header %s: %v", c.job, sigHdr, rj.Headers)
					}
				}
			}
			// Only the genuine requests made deliveries; once those are
			// done, nothing else can reach the destination.
			if ds := b.settled(sources...); len(ds) != len(cases) {
				t.Errorf("%d deliveries, want %d: a tampered request got through", len(ds), len(cases))
			}
			if n := len(dest.requests()); n != len(cases) {
				t.Errorf("destination received %d requests, want %d: a tampered one got through", n, len(cases))
			}
		})
	}
}

// TestPublishedVectors: the vendors' own published examples (shared
// schemes.md), at the time they were signed, reach the destination
// unchanged.
func TestPublishedVectors(t *testing.T) {
	t.Parallel()
	vectors := []struct {
		name, scheme, secret, contentType, body string
		header                                  http.Header
		at                                      int64
	}{
		// GitHub, "Validating webhook deliveries".
		{"github", "github", "It's a Secret to Everybody", "text/plain", "Hello, World!",
			http.Header{"X-Hub-Signature-256": {"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}}, 0},
		// Standard Webhooks, libraries/go/webhook_test.go TestWebhookSign.
		{"standard", "standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "application/json", `{"test": 2432232314}`,
			http.Header{"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"},
				"Webhook-Signature": {"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}}, 1614265330},
		// Slack, "Verifying requests from Slack".
		{"slack", "slack", "8f742231b10e8888abcd99yyyzzz85a5", "application/x-www-form-urlencoded",
			"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
			http.Header{"X-Slack-Request-Timestamp": {"1531420618"},
				"X-Slack-Signature": {"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}}, 1531420618},
	}
	for _, v := range vectors {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			var now func() time.Time
			if v.at != 0 {
				now = func() time.Time { return time.Unix(v.at, 0).Add(30 * time.Second) }
			}
			b := setup(t, &options{now: now})
			dest := newSink(t)
			src := b.source(v.name, v.scheme, []string{v.secret}, dest.srv.URL, nil)
			if r := b.post(src.Name, []byte(v.body), v.contentType, v.header); r.status != http.StatusAccepted {
				t.Fatalf("status %d %q, want 202", r.status, r.body)
			}
			got := dest.wait(t, 1)[0]
			if string(got.body) != v.body || got.header.Get("Content-Type") != v.contentType || got.header.Get(HeaderVerified) != v.scheme {
				t.Fatalf("destination got %q (%q, verified %q)", got.body, got.header.Get("Content-Type"), got.header.Get(HeaderVerified))
			}
			for k := range v.header {
				if got.header.Get(k) != v.header.Get(k) {
					t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v.header.Get(k))
				}
			}
			if v.at != 0 {
				// The same request ten minutes later is outside the tolerance.
				late := setup(t, &options{now: func() time.Time { return time.Unix(v.at, 0).Add(10 * time.Minute) }})
				late.source(v.name, v.scheme, []string{v.secret}, "", nil)
				if r := late.post(v.name, []byte(v.body), v.contentType, v.header); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "timestamp") {
					t.Errorf("late: %d %q, want 401 timestamp outside tolerance", r.status, r.body)
				}
			}
		})
	}
}

// githubRequest signs body as GitHub does.
func githubRequest(t *testing.T, secret, delivery string, body []byte) http.Header {
	t.Helper()
	s, _ := signature.Lookup("github")
	sig, err := s.Sign(signature.Message{ID: delivery, Payload: body}, secret)
	if err != nil {
		t.Fatal(err)
	}
	sig.Header.Set("X-GitHub-Event", "push")
	return sig.Header
}

// TestDuplicateDeliveredOnce: the same message, repeated in sequence,
// concurrently and to a gateway that has just restarted (nothing in
// memory), is committed and delivered once; every repeat is acknowledged
// with the first event's id. Slack, which has no message ID, is
// deduplicated by its body.
func TestDuplicateDeliveredOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	dest := newSink(t)
	src := b.source("gh", "github", []string{"s3cret"}, dest.srv.URL, nil)
	body := []byte(payload("dup"))
	h := githubRequest(t, "s3cret", "delivery-1", body)

	first := b.post(src.Name, body, "application/json", h)
	if first.status != http.StatusAccepted {
		t.Fatalf("first: %d %q", first.status, first.body)
	}
	id := first.id(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var repeats []reply
	for range 8 {
		wg.Go(func() {
			r := b.post(src.Name, body, "application/json", h)
			mu.Lock()
			repeats = append(repeats, r)
			mu.Unlock()
		})
	}
	wg.Wait()
	// A new gateway on the same store remembers through the store.
	restarted, err := New(Config{Store: b.store})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "/in/gh", bytes.NewReader(body))
	req.Header = h.Clone()
	rec := httptest.NewRecorder()
	restarted.ServeHTTP(rec, req)
	repeats = append(repeats, reply{status: rec.Code, body: rec.Body.String()})
	for _, r := range repeats {
		if r.status != http.StatusOK || r.id(t) != id || !strings.Contains(r.body, `"duplicate":true`) {
			t.Errorf("repeat: %d %q, want 200 with id %s", r.status, r.body, id)
		}
	}
	// Another delivery ID is another message.
	if r := b.post(src.Name, body, "application/json", githubRequest(t, "s3cret", "delivery-2", body)); r.status != http.StatusAccepted {
		t.Errorf("new delivery id: %d", r.status)
	}

	slack := b.source("sl", "slack", []string{"slack-secret"}, dest.srv.URL, nil)
	ss, _ := signature.Lookup("slack")
	form := []byte("command=%2Fx&text=once")
	for i := range 3 {
		// Slack's retries are signed afresh.
		sig, err := ss.Sign(signature.Message{Payload: form, Timestamp: time.Now().Add(time.Duration(i) * time.Second)}, "slack-secret")
		if err != nil {
			t.Fatal(err)
		}
		sig.Header.Set("X-Slack-Retry-Num", fmt.Sprint(i))
		want := http.StatusAccepted
		if i > 0 {
			want = http.StatusOK
		}
		if r := b.post(slack.Name, form, "application/x-www-form-urlencoded", sig.Header); r.status != want {
			t.Errorf("slack attempt %d: %d %q, want %d", i, r.status, r.body, want)
		}
	}

	dest.wait(t, 3)
	b.settled(src, slack)
	if n := len(dest.requests()); n != 3 {
		t.Fatalf("destination received %d requests, want 3", n)
	}
	if n := len(b.deliveries(src)); n != 2 {
		t.Errorf("%d deliveries for source gh, want 2", n)
	}
	if v := counted(b.gateway, "gh", outcomeDuplicate); v != 8 {
		t.Errorf("duplicates counted: %v, want 8", v)
	}
}

// TestDestinationDown: a destination that answers 503, then drops
// connections, then recovers receives every accepted request, once each.
func TestDestinationDown(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	dest := newSink(t)
	dest.set(true, false)
	src := b.source("down", "github", []string{"s3cret"}, dest.srv.URL, nil)
	want := map[string]bool{}
	for i := range 10 {
		body := []byte(payload(fmt.Sprintf("outage-%d", i)))
		if r := b.post(src.Name, body, "application/json", githubRequest(t, "s3cret", fmt.Sprint("d", i), body)); r.status != http.StatusAccepted {
			t.Fatalf("status %d %q", r.status, r.body)
		}
		want[string(body)] = true
	}
	waitFor(t, func() bool { return dest.failed() >= 10 }, "the destination was never tried")
	dest.set(false, true)
	n := dest.failed()
	waitFor(t, func() bool { return dest.failed() >= n+10 }, "the destination was not retried while dropping connections")
	dest.set(false, false)
	dest.wait(t, 10)
	for _, d := range b.settled(src) {
		if d.Status != store.StatusSucceeded {
			t.Errorf("delivery %s: %s after %d attempts", d.ID, d.Status, d.Attempts)
		}
	}
	got := dest.requests()
	if len(got) != 10 {
		t.Fatalf("destination received %d requests, want 10", len(got))
	}
	for _, r := range got {
		if !want[string(r.body)] {
			t.Errorf("unexpected or repeated body %q", r.body)
		}
		delete(want, string(r.body))
	}
}

func waitFor(t *testing.T, ok func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestResigned: a destination with a hookrelay scheme gets the request
// re-signed, and verifies it with signature.Verify; the vendor's headers
// come along.
func TestResigned(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	dest := newSink(t)
	src := b.source("stripe", "stripe", []string{"whsec_vendor"}, "", nil)
	internal, _ := signature.Lookup("standard")
	hop, err := signature.GenerateSecret(internal)
	if err != nil {
		t.Fatal(err)
	}
	b.destination(src, dest.srv.URL, "standard", hop)
	st, _ := signature.Lookup("stripe")
	body := []byte(`{"id":"evt_1","object":"event","type":"invoice.paid"}`)
	sig, err := st.Sign(signature.Message{Payload: body}, "whsec_vendor")
	if err != nil {
		t.Fatal(err)
	}
	if r := b.post(src.Name, body, "application/json; charset=utf-8", sig.Header); r.status != http.StatusAccepted {
		t.Fatalf("status %d %q", r.status, r.body)
	}
	got := dest.wait(t, 1)[0]
	if err := internal.Verify(got.header, got.body, []string{hop}, nil); err != nil {
		t.Fatalf("the re-signed request does not verify: %v", err)
	}
	if !bytes.Equal(got.body, body) || got.header.Get("Content-Type") != "application/json; charset=utf-8" ||
		got.header.Get("Stripe-Signature") != sig.Header.Get("Stripe-Signature") || got.header.Get(HeaderVerified) != "stripe" {
		t.Fatalf("destination got %q with %v", got.body, got.header)
	}
}

// TestSecretRotation: while a source holds the new and the old secret, a
// request signed with either verifies.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{noEngine: true})
	b.source("rot", "github", []string{"new-secret", "old-secret"}, "", nil)
	for i, s := range []string{"old-secret", "new-secret"} {
		body := []byte(payload(fmt.Sprint("rot", i)))
		if r := b.post("rot", body, "application/json", githubRequest(t, s, fmt.Sprint("r", i), body)); r.status != http.StatusAccepted {
			t.Errorf("signed with %s: %d %q", s, r.status, r.body)
		}
	}
	body := []byte(payload("rot-x"))
	if r := b.post("rot", body, "application/json", githubRequest(t, "another", "rx", body)); r.status != http.StatusUnauthorized {
		t.Errorf("signed with an unknown secret: %d", r.status)
	}
}

// TestSlackChallenge: a signed url_verification is answered with its
// challenge and creates no event; an unsigned one is refused.
func TestSlackChallenge(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	dest := newSink(t)
	src := b.source("slack", "slack", []string{"slack-secret"}, dest.srv.URL, func(s *store.Source) { s.SlackChallenge = true })
	body := []byte(`{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}`)
	ss, _ := signature.Lookup("slack")
	sig, err := ss.Sign(signature.Message{Payload: body}, "slack-secret")
	if err != nil {
		t.Fatal(err)
	}
	r := b.post(src.Name, body, "application/json", sig.Header)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("challenge: %d %q", r.status, r.body)
	}
	var v struct{ Challenge string }
	if err := json.Unmarshal([]byte(r.body), &v); err != nil || v.Challenge != "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" {
		t.Fatalf("challenge answer %q: %v", r.body, err)
	}
	if r := b.post(src.Name, body, "application/json", nil); r.status != http.StatusUnauthorized {
		t.Errorf("unsigned challenge: %d %q, want 401", r.status, r.body)
	}
	// Without the option, the handshake is an ordinary event.
	plain := b.source("slack2", "slack", []string{"slack-secret"}, "", nil)
	if r := b.post(plain.Name, body, "application/json", sig.Header); r.status != http.StatusAccepted {
		t.Errorf("challenge to a source without the option: %d %q, want 202", r.status, r.body)
	}
	if n := len(b.deliveries(src)); n != 0 {
		t.Errorf("the challenge created %d deliveries", n)
	}
	if v := counted(b.gateway, "slack", outcomeChallenge); v != 1 {
		t.Errorf("challenges counted: %v", v)
	}
}

// zoomScheme is Zoom's signature as a custom scheme.
const zoomScheme = `{"name":"zoom","header":"x-zm-signature","prefix":"v0=","signed":"template","template":"v0:{timestamp}:{body}","timestamp_header":"x-zm-request-timestamp"}`

// TestZoomValidation: a signed endpoint.url_validation is answered with
// the token Zoom's documentation describes, computed here by Python's
// hmac; an unsigned one is refused, so the gateway is no HMAC oracle.
func TestZoomValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const token = "zoom-secret-token"
	src := b.source("zoom", "custom", []string{token}, "", func(s *store.Source) {
		s.CustomScheme = []byte(zoomScheme)
		s.ZoomSecret = store.Secret{Value: token, CreatedAt: time.Now()}
	})
	plain := "qgg8vlvZRS6UYooatFL8Aw"
	body := []byte(`{"payload":{"plainToken":"` + plain + `"},"event_ts":1654503849680,"event":"endpoint.url_validation"}`)
	sigs := signWith(t, "python3", []signJob{
		{Scheme: "zoom", Secret: token, TS: time.Now().Unix(), BodyB64: base64.StdEncoding.EncodeToString(body)},
		{Scheme: "zoom-token", Secret: token, BodyB64: b64(plain)},
	})
	r := b.post(src.Name, sigs[0].body, "application/json", sigs[0].header)
	if r.status != http.StatusOK {
		t.Fatalf("validation: %d %q", r.status, r.body)
	}
	var v struct{ PlainToken, EncryptedToken string }
	if err := json.Unmarshal([]byte(r.body), &v); err != nil {
		t.Fatal(err)
	}
	want := sigs[1].header["encryptedToken"][0]
	if v.PlainToken != plain || v.EncryptedToken != want || ZoomToken(token, plain) != want {
		t.Fatalf("answer %+v, want encryptedToken %s", v, want)
	}
	if r := b.post(src.Name, body, "application/json", nil); r.status != http.StatusUnauthorized {
		t.Errorf("unsigned validation: %d %q, want 401", r.status, r.body)
	}
}

// TestOversizedBody: a body over the limit gets 413 and leaves nothing
// behind: no event, no rejection.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{maxBody: 1024, noEngine: true})
	src := b.source("big", "github", []string{"s3cret"}, "", nil)
	big := bytes.Repeat([]byte("a"), 2048)
	h := githubRequest(t, "s3cret", "big", big)
	if r := b.post(src.Name, big, "text/plain", h); r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %q, want 413", r.status, r.body)
	}
	// Without Content-Length (chunked), too.
	req, _ := http.NewRequest("POST", b.url+"/in/big", struct{ *bytes.Reader }{bytes.NewReader(big)})
	req.Header = h.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Fatalf("chunked: status %d, want 413", resp.StatusCode)
	}
	if n := len(b.deliveries(src)); n != 0 {
		t.Errorf("%d deliveries", n)
	}
	if n := len(b.rejections(src)); n != 0 {
		t.Errorf("%d rejections stored", n)
	}
	ev := []byte(payload("small"))
	if r := b.post(src.Name, ev, "application/json", githubRequest(t, "s3cret", "small", ev)); r.status != http.StatusAccepted {
		t.Errorf("a body under the limit: %d", r.status)
	}
}

// TestUnknownSourceAndMethod: unknown and malformed names get 404, other
// methods 405.
func TestUnknownSourceAndMethod(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{noEngine: true})
	for _, name := range []string{"nope", "UPPER", "-x", strings.Repeat("a", 64)} {
		if r := b.post(name, []byte("{}"), "application/json", nil); r.status != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", name, r.status)
		}
	}
	rec := httptest.NewRecorder()
	b.gateway.ServeHTTP(rec, httptest.NewRequest("GET", "/in/x", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" {
		t.Errorf("GET: %d", rec.Code)
	}
	if v := counted(b.gateway, "", outcomeUnknown); v != 4 {
		t.Errorf("unknown sources counted: %v", v)
	}
}

// TestRejectionBudget: a flood of bad requests is counted in full but
// stored only up to the source's budget.
func TestRejectionBudget(t *testing.T) {
	t.Parallel()
	// The budget is on the gateway's clock, which moves only when the test
	// says: a slow machine cannot refill it (it did, on the wall clock).
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	b := setup(t, &options{rate: 0.5, noEngine: true, now: clock}) // a burst of 5
	src := b.source("flood", "github", []string{"s3cret"}, "", nil)
	flood := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			if r := b.post(src.Name, []byte(fmt.Sprint(i)), "text/plain", nil); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "missing signature") {
				t.Fatalf("status %d %q", r.status, r.body)
			}
		}
	}
	flood(0, 12)
	if n := len(b.rejections(src)); n != 5 {
		t.Errorf("%d rejections stored, want 5", n)
	}
	if v := counted(b.gateway, "flood", outcomeRejected); v != 12 {
		t.Errorf("rejections counted: %v, want 12", v)
	}
	// Two seconds at 0.5 a second: one more.
	mu.Lock()
	now = now.Add(2 * time.Second)
	mu.Unlock()
	flood(12, 3)
	if n := len(b.rejections(src)); n != 6 {
		t.Errorf("%d rejections stored two seconds later, want 6", n)
	}
}

// failingStore fails every CreateEvent.
type failingStore struct{ store.Store }

func (failingStore) CreateEvent(context.Context, *store.Event, time.Time) (*store.Event, []*store.Delivery, error) {
	return nil, nil, errors.New("disk on fire")
}

// TestCommitFailure: a request that cannot be committed is never
// acknowledged with a 2xx; the sender is told to retry.
func TestCommitFailure(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{noEngine: true, wrap: func(s store.Store) store.Store { return failingStore{s} }})
	src := b.source("fail", "github", []string{"s3cret"}, "", nil)
	body := []byte(payload("fail"))
	h := githubRequest(t, "s3cret", "f1", body)
	for range 2 { // a retry is not mistaken for a duplicate or a replay
		if r := b.post(src.Name, body, "application/json", h); r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
			t.Fatalf("status %d %q, want 503 with Retry-After", r.status, r.body)
		}
	}
}

// TestMisconfiguredSource: a source whose custom scheme cannot be built
// answers 500 and says why in its rejections.
func TestMisconfiguredSource(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{noEngine: true})
	src := b.source("broken", "custom", []string{"x"}, "", func(s *store.Source) { s.CustomScheme = []byte(`{"name":"github","header":"X"}`) })
	if r := b.post(src.Name, []byte("{}"), "application/json", nil); r.status != http.StatusInternalServerError {
		t.Fatalf("status %d %q, want 500", r.status, r.body)
	}
	if rs := b.rejections(src); len(rs) != 1 || !strings.Contains(rs[0].Detail, "custom scheme") {
		t.Fatalf("rejections %+v", rs)
	}
}

// TestForwardHeaders: which headers deliveries carry.
func TestForwardHeaders(t *testing.T) {
	t.Parallel()
	h := http.Header{
		"Connection":           {"keep-alive, X-Hop"},
		"X-Hop":                {"1"},
		"Keep-Alive":           {"timeout=5"},
		"Content-Length":       {"12"},
		"Content-Type":         {"application/json"},
		"Authorization":        {"Bearer x"},
		"Cookie":               {"a=b"},
		"X-Api-Key":            {"k"},
		"X-Gitlab-Token":       {"t"},
		"X-Hookrelay-Verified": {"forged"},
		"X-Github-Event":       {"push"},
		"X-Many":               {"a", "b"},
		"User-Agent":           {"GitHub-Hookshot/1"},
		"Proxy-Authorization":  {"p"},
	}
	gh, _ := signature.Lookup("github")
	got := forwardHeaders(h, "gh", gh)
	want := map[string]string{
		"X-Github-Event": "push", "X-Many": "a, b", "User-Agent": "GitHub-Hookshot/1",
		HeaderSource: "gh", HeaderVerified: "github",
	}
	if len(got) != len(want) {
		t.Errorf("forwarded %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	kept, _ := inspect(h, gh, nil)
	for _, k := range []string{"Authorization", "Cookie", "X-Api-Key", "X-Gitlab-Token", "Proxy-Authorization"} {
		if kept[k] != "[redacted]" {
			t.Errorf("inspected %s = %q", k, kept[k])
		}
	}
	if kept["X-Github-Event"] != "push" {
		t.Errorf("inspected headers %v", kept)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	gh, _ := signature.Lookup("github")
	slack, _ := signature.Lookup("slack")
	stripe, _ := signature.Lookup("stripe")
	body := []byte(`{"id":"evt_9"}`)
	cases := []struct {
		s    *signature.Scheme
		h    http.Header
		want string
	}{
		{gh, http.Header{"X-Github-Delivery": {"abc"}}, "abc"},
		{stripe, nil, "evt_9"},
		{slack, nil, "sha256:"},
		{gh, http.Header{"X-Github-Delivery": {strings.Repeat("x", 300)}}, "id-sha256:"},
		{gh, http.Header{"X-Github-Delivery": {"a\x01b"}}, "id-sha256:"},
	}
	for _, c := range cases {
		if got := idempotencyKey(c.s, c.h, body); !strings.HasPrefix(got, c.want) || strings.HasSuffix(c.want, ":") && len(got) != len(c.want)+64 {
			t.Errorf("%s %v: %q, want %q...", c.s, c.h, got, c.want)
		}
	}
}

// counted returns how many requests of the source had the outcome.
func counted(g *Gateway, source, outcome string) float64 {
	var m dto.Metric
	if err := g.requests.WithLabelValues(source, outcome).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
