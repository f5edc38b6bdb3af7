package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// hardenTests are the tests of the bounds on rejections and of
// store.Sessions; Run runs them with the others.
var hardenTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"RejectionBytes", testRejectionBytes},
	{"Sessions", testSessions},
	{"SessionsOfRevokedKey", testSessionsOfRevokedKey},
	{"PruneSessions", testPruneSessions},
}

// testRejectionBytes: one rejection keeps at most MaxRejectionBytes of
// headers and body, and a source at most RejectionBudget, the newest;
// another source's rejections are not touched.
func testRejectionBytes(h *harness) {
	a := h.source("flooded", nil)
	b := h.source("quiet", nil)
	seq := 0
	add := func(src *store.Source, headers map[string]string, body []byte) *store.Rejection {
		h.Helper()
		seq++
		r := &store.Rejection{
			ID: fmt.Sprintf("rej_%05d", seq), SourceID: src.ID, ReceivedAt: t0.Add(time.Duration(seq) * time.Millisecond),
			Reason: "signature mismatch", Headers: headers, Body: body, BodySize: int64(len(body)),
		}
		if err := h.s.AddRejection(h.ctx, r); err != nil {
			h.Fatalf("AddRejection: %v", err)
		}
		return r
	}
	size := func(r *store.Rejection) int {
		hb, err := json.Marshal(r.Headers)
		if err != nil {
			h.Fatal(err)
		}
		if r.Headers == nil {
			hb = []byte("{}")
		}
		return len(hb) + len(r.Body)
	}
	list := func(src *store.Source) []*store.Rejection {
		h.Helper()
		rs, _, err := h.s.ListRejections(h.ctx, store.RejectionFilter{SourceID: src.ID, Page: store.Page{Limit: 1000}})
		if err != nil {
			h.Fatalf("ListRejections: %v", err)
		}
		return rs
	}
	quiet := add(b, map[string]string{"X-Small": "1"}, []byte("small"))

	// Headers over the cap alone are not kept; the body is cut to what
	// fits beside the headers.
	huge := map[string]string{}
	for i := range 20 {
		huge[fmt.Sprintf("X-H%02d", i)] = strings.Repeat("h", 1000)
	}
	add(a, huge, []byte("body"))
	mid := map[string]string{"X-Mid": strings.Repeat("m", 6000)}
	add(a, mid, bytes.Repeat([]byte("b"), store.MaxRejectionBody))
	rs := list(a)
	if len(rs) != 2 {
		h.Fatalf("%d rejections, want 2", len(rs))
	}
	if len(rs[1].Headers) != 0 || string(rs[1].Body) != "body" {
		h.Errorf("oversized headers kept as %d headers, body %q; want none and the body", len(rs[1].Headers), rs[1].Body)
	}
	if n := size(rs[0]); n > store.MaxRejectionBytes || rs[0].Headers["X-Mid"] == "" || len(rs[0].Body) == 0 {
		h.Errorf("rejection keeps %d bytes (%d of body), want headers and a body cut to %d in all", n, len(rs[0].Body), store.MaxRejectionBytes)
	}

	// Past the budget, the oldest go.
	var last *store.Rejection
	per := store.MaxRejectionBytes
	n := 2*store.RejectionBudget/per + 3
	for range n {
		last = add(a, map[string]string{"X-Pad": strings.Repeat("p", per/2)}, bytes.Repeat([]byte("x"), store.MaxRejectionBody))
	}
	rs = list(a)
	total := 0
	for _, r := range rs {
		total += size(r)
	}
	if total > store.RejectionBudget || total < store.RejectionBudget-2*per {
		h.Errorf("after %d rejections the source keeps %d bytes in %d; want at most, and nearly, %d", n+2, total, len(rs), store.RejectionBudget)
	}
	if len(rs) == 0 || rs[0].ID != last.ID {
		h.Errorf("the newest rejection is not kept")
	}
	if got := list(b); len(got) != 1 || got[0].ID != quiet.ID {
		h.Errorf("the other source's rejections: %d, want its one", len(got))
	}
}

// newSession returns a session token's hash and a session for it.
func newSession(kind, keyID, tenant string, expires time.Time) *store.Session {
	sum := sha256.Sum256([]byte(randomString(32)))
	return &store.Session{TokenHash: sum[:], Kind: kind, KeyID: keyID, Tenant: tenant, CreatedAt: t0, ExpiresAt: expires}
}

func testSessions(h *harness) {
	k, _ := newAPIKey("dash")
	if err := h.s.CreateAPIKey(h.ctx, k); err != nil {
		h.Fatalf("CreateAPIKey: %v", err)
	}
	admin := newSession(store.SessionAdmin, k.ID, "", t0.Add(time.Hour))
	tenant := newSession(store.SessionTenant, "", "acme", t0.Add(time.Hour))
	for _, s := range []*store.Session{admin, tenant} {
		if err := h.s.CreateSession(h.ctx, s); err != nil {
			h.Fatalf("CreateSession: %v", err)
		}
	}
	if err := h.s.CreateSession(h.ctx, admin); !errors.Is(err, store.ErrConflict) {
		h.Errorf("CreateSession of an existing hash = %v, want ErrConflict", err)
	}
	for _, want := range []*store.Session{admin, tenant} {
		got, err := h.s.SessionByHash(h.ctx, want.TokenHash, t0)
		if err != nil {
			h.Fatalf("SessionByHash: %v", err)
		}
		if !bytes.Equal(got.TokenHash, want.TokenHash) || got.Kind != want.Kind || got.KeyID != want.KeyID ||
			got.Tenant != want.Tenant || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			h.Errorf("SessionByHash = %+v, want %+v", got, want)
		}
	}
	if _, err := h.s.SessionByHash(h.ctx, tenant.TokenHash, t0.Add(time.Hour)); !isNotFound(err) {
		h.Errorf("SessionByHash at its expiry = %v, want ErrNotFound", err)
	}
	other := sha256.Sum256([]byte("no such token"))
	if _, err := h.s.SessionByHash(h.ctx, other[:], t0); !isNotFound(err) {
		h.Errorf("SessionByHash of an unknown hash = %v, want ErrNotFound", err)
	}
	if err := h.s.DeleteSession(h.ctx, admin.TokenHash); err != nil {
		h.Fatalf("DeleteSession: %v", err)
	}
	if _, err := h.s.SessionByHash(h.ctx, admin.TokenHash, t0); !isNotFound(err) {
		h.Errorf("SessionByHash after DeleteSession = %v, want ErrNotFound", err)
	}
	if err := h.s.DeleteSession(h.ctx, admin.TokenHash); err != nil {
		h.Errorf("DeleteSession of a deleted session = %v, want nil", err)
	}
	if _, err := h.s.SessionByHash(h.ctx, tenant.TokenHash, t0); err != nil {
		h.Errorf("the other session after DeleteSession: %v", err)
	}
}

// testSessionsOfRevokedKey: revoking an API key ends the admin sessions
// opened with it, and only those.
func testSessionsOfRevokedKey(h *harness) {
	k1, _ := newAPIKey("one")
	k2, _ := newAPIKey("two")
	for _, k := range []*store.APIKey{k1, k2} {
		if err := h.s.CreateAPIKey(h.ctx, k); err != nil {
			h.Fatalf("CreateAPIKey: %v", err)
		}
	}
	s1 := newSession(store.SessionAdmin, k1.ID, "", t0.Add(time.Hour))
	s2 := newSession(store.SessionAdmin, k2.ID, "", t0.Add(time.Hour))
	orphan := newSession(store.SessionAdmin, "key_none", "", t0.Add(time.Hour))
	for _, s := range []*store.Session{s1, s2, orphan} {
		if err := h.s.CreateSession(h.ctx, s); err != nil {
			h.Fatalf("CreateSession: %v", err)
		}
	}
	if err := h.s.RevokeAPIKey(h.ctx, k1.ID, t0); err != nil {
		h.Fatalf("RevokeAPIKey: %v", err)
	}
	if _, err := h.s.SessionByHash(h.ctx, s1.TokenHash, t0); !isNotFound(err) {
		h.Errorf("session of a revoked key = %v, want ErrNotFound", err)
	}
	if _, err := h.s.SessionByHash(h.ctx, orphan.TokenHash, t0); !isNotFound(err) {
		h.Errorf("session of an unknown key = %v, want ErrNotFound", err)
	}
	if _, err := h.s.SessionByHash(h.ctx, s2.TokenHash, t0); err != nil {
		h.Errorf("session of the other key: %v", err)
	}
}

func testPruneSessions(h *harness) {
	k, _ := newAPIKey("prune")
	revoked, _ := newAPIKey("revoked")
	for _, key := range []*store.APIKey{k, revoked} {
		if err := h.s.CreateAPIKey(h.ctx, key); err != nil {
			h.Fatalf("CreateAPIKey: %v", err)
		}
	}
	live := newSession(store.SessionAdmin, k.ID, "", t0.Add(time.Hour))
	expired := newSession(store.SessionAdmin, k.ID, "", t0.Add(-time.Millisecond))
	ofRevoked := newSession(store.SessionAdmin, revoked.ID, "", t0.Add(time.Hour))
	tenantLive := newSession(store.SessionTenant, "", "acme", t0.Add(time.Minute))
	tenantExpired := newSession(store.SessionTenant, "", "acme", t0)
	for _, s := range []*store.Session{live, expired, ofRevoked, tenantLive, tenantExpired} {
		if err := h.s.CreateSession(h.ctx, s); err != nil {
			h.Fatalf("CreateSession: %v", err)
		}
	}
	if err := h.s.RevokeAPIKey(h.ctx, revoked.ID, t0); err != nil {
		h.Fatalf("RevokeAPIKey: %v", err)
	}
	n, err := h.s.PruneSessions(h.ctx, t0)
	if err != nil || n != 3 {
		h.Errorf("PruneSessions = %d, %v; want 3", n, err)
	}
	for _, s := range []*store.Session{live, tenantLive} {
		if _, err := h.s.SessionByHash(h.ctx, s.TokenHash, t0); err != nil {
			h.Errorf("live session pruned: %v", err)
		}
	}
	if n, err := h.s.PruneSessions(h.ctx, t0); err != nil || n != 0 {
		h.Errorf("PruneSessions again = %d, %v; want 0", n, err)
	}
}
