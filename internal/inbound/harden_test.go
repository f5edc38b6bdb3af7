package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestRejectionBytesBounded: junk requests as large as the server lets
// through (a hundred 1 KiB headers and a body) grow the rejections stored
// for their source by at most the source's budget, each one by at most
// 8 KiB, and leave another source's rejections alone.
func TestRejectionBytesBounded(t *testing.T) {
	t.Parallel()
	const (
		perRejection = 8 << 10 // store.MaxRejectionBytes
		budget       = 1 << 20 // store.RejectionBudget
		requests     = 300     // 300 × 8 KiB is well past the budget
	)
	b := setup(t, &options{rate: 1e9, noEngine: true}) // every rejection stored
	junk := b.source("junk", "github", []string{"s3cret"}, "", nil)
	other := b.source("other", "github", []string{"s3cret"}, "", nil)
	if r := b.post(other.Name, []byte("first"), "text/plain", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("status %d %q", r.status, r.body)
	}
	h := http.Header{}
	for i := range 100 {
		h.Set(fmt.Sprintf("X-Junk-%03d", i), strings.Repeat("j", 1<<10))
	}
	body := []byte(strings.Repeat("b", 16<<10))
	for i := range requests {
		if r := b.post(junk.Name, body, "text/plain", h); r.status != http.StatusUnauthorized {
			t.Fatalf("request %d: status %d %q", i, r.status, r.body)
		}
	}
	var total int
	rs, _, err := b.store.ListRejections(context.Background(), store.RejectionFilter{SourceID: junk.ID, Page: store.Page{Limit: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		hb, err := json.Marshal(r.Headers)
		if err != nil {
			t.Fatal(err)
		}
		n := len(hb) + len(r.Body)
		if n > perRejection {
			t.Fatalf("a rejection keeps %d bytes of headers and body, want at most %d", n, perRejection)
		}
		if r.BodySize != int64(len(body)) {
			t.Errorf("BodySize %d, want %d", r.BodySize, len(body))
		}
		total += n
	}
	if total > budget {
		t.Errorf("%d requests stored %d bytes in %d rejections, want at most %d", requests, total, len(rs), budget)
	}
	if total < budget/2 {
		t.Errorf("only %d bytes in %d rejections kept; the budget is %d", total, len(rs), budget)
	}
	if got := b.rejections(other); len(got) != 1 {
		t.Errorf("the other source keeps %d rejections, want its 1", len(got))
	}
}

// TestCredentialRedaction: headers that may carry a credential are neither
// stored with an accepted event (which is what its deliveries send) nor
// kept in the clear in a rejection; the source scheme's own signature
// headers and ordinary headers are.
func TestCredentialRedaction(t *testing.T) {
	t.Parallel()
	b := setup(t, &options{noEngine: true})
	gh := b.source("redact-gh", "github", []string{"s3cret"}, "", nil)
	plex := b.source("redact-plex", "plextrac", []string{"s3cret"}, "", nil)
	cases := []struct {
		name   string
		secret bool
	}{
		{"Authorization", true},
		{"Proxy-Authorization", true},
		{"X-Authorization", true},
		{"Authentication", true},
		{"X-Auth-Key", true},
		{"X-Auth-Email-Token", true},
		{"X-Access-Key", true},
		{"X-Api-Key", true},
		{"Apikey", true},
		{"Ocp-Apim-Subscription-Key", true},
		{"X-Gitlab-Token", true},
		{"X-Amz-Security-Token", true},
		{"X-Client-Secret", true},
		{"X-Password", true},
		{"X-Passwd", true},
		{"Cookie", true},
		{"X-Session-Id", true},
		{"Stripe-Signature", true},      // another scheme's signature
		{"X-Shopify-Hmac-Sha256", true}, // likewise
		{"X-Signature", true},
		{"X-Github-Event", false},
		{"User-Agent", false},
		{"X-Request-Id", false},
		{"Idempotency-Key", false},
	}
	h := http.Header{}
	for _, c := range cases {
		h.Set(c.name, "value-of-"+c.name)
	}

	// Accepted: GitHub's own X-Hub-Signature-256 stays, so that a
	// destination can verify the request again.
	body := []byte(payload("redact"))
	signed := githubRequest(t, "s3cret", "d-redact", body)
	for k, v := range h {
		signed[k] = v
	}
	r := b.post(gh.Name, body, "application/json", signed)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d %q", r.status, r.body)
	}
	ev, err := b.store.GetEvent(context.Background(), r.id(t))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Headers["X-Hub-Signature-256"] == "" {
		t.Errorf("the scheme's own signature header was not kept: %v", ev.Headers)
	}

	// Rejected: at a PlexTrac source, whose own header is
	// x-authorization-hmac-256, which stays readable.
	rh := h.Clone()
	rh.Set("X-Authorization-Hmac-256", "not-a-valid-signature")
	if r := b.post(plex.Name, body, "application/json", rh); r.status != http.StatusUnauthorized {
		t.Fatalf("status %d %q", r.status, r.body)
	}
	rs := b.rejections(plex)
	if len(rs) != 1 {
		t.Fatalf("%d rejections", len(rs))
	}
	kept := rs[0].Headers
	if kept["X-Authorization-Hmac-256"] != "not-a-valid-signature" {
		t.Errorf("the scheme's own signature header was redacted: %q", kept["X-Authorization-Hmac-256"])
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := "value-of-" + c.name
			fwd, inspected := ev.Headers[c.name], kept[c.name]
			if c.secret {
				if fwd != "" {
					t.Errorf("stored with the event and forwarded: %q", fwd)
				}
				if inspected != "[redacted]" {
					t.Errorf("kept in the rejection as %q, want [redacted]", inspected)
				}
				return
			}
			if fwd != want || inspected != want {
				t.Errorf("forwarded %q, kept %q; want %q", fwd, inspected, want)
			}
		})
	}
}

// stepLeader is a Leader that reports each Check on a channel, so that a
// test knows when Run has finished a prune (the next Check follows it).
type stepLeader struct{ checks chan struct{} }

func (l *stepLeader) Check(ctx context.Context) bool {
	select {
	case l.checks <- struct{}{}:
	case <-ctx.Done():
	}
	return true
}

// TestRunPrunes: Run prunes rejections past the retention on its own
// timer, with no request being rejected, by the injected clock.
func TestRunPrunes(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	leader := &stepLeader{checks: make(chan struct{})}
	g, err := New(Config{Store: st, Now: clock, RejectionRetention: time.Hour, PruneInterval: time.Millisecond, Leader: leader})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := &store.Source{ID: store.NewID("src"), Name: "aged", Scheme: "github", CreatedAt: now, UpdatedAt: now}
	if err := st.CreateSource(ctx, src, nil); err != nil {
		t.Fatal(err)
	}
	for _, age := range []time.Duration{2 * time.Hour, 61 * time.Minute, 59 * time.Minute, 0} {
		r := &store.Rejection{ID: store.NewID("rej"), SourceID: src.ID, ReceivedAt: now.Add(-age), Reason: "old"}
		if err := st.AddRejection(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- g.Run(rctx) }()
	<-leader.checks // the first prune starts
	<-leader.checks // and is over
	rs, _, err := st.ListRejections(ctx, store.RejectionFilter{SourceID: src.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Errorf("%d rejections left, want the 2 younger than an hour", len(rs))
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
}
