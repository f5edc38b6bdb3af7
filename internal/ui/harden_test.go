package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// cookieOf returns the client's session cookie value.
func (b *testBundle) cookieOf(c *client) string {
	b.t.Helper()
	u, _ := url.Parse(b.srv.URL + "/ui/")
	for _, ck := range c.hc.Jar.Cookies(u) {
		if ck.Name == cookieName {
			return ck.Value
		}
	}
	b.t.Fatal("no session cookie")
	return ""
}

// withCookie returns a new client that sends value as its session cookie.
func (b *testBundle) withCookie(value string) *client {
	c := b.client()
	u, _ := url.Parse(b.srv.URL + "/ui/")
	c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: value, Path: "/ui/"}})
	return c
}

// TestLogoutEndsSession: after logging out, a copy of the old cookie (one
// that leaked, or a browser that kept it) is sent to the sign-in page.
func TestLogoutEndsSession(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	old := b.cookieOf(c)
	if r := c.post("/ui/logout", nil, "/ui/"); r.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.status)
	}
	if r := b.withCookie(old).get("/ui/endpoints"); r.status != http.StatusSeeOther || r.location != "/ui/login" {
		t.Fatalf("the cookie after sign-out: %d %q, want 303 to /ui/login", r.status, r.location)
	}
}

// TestRevokedKeyEndsCopiedSession: revoking the key a session was opened
// with ends it for every copy of its cookie.
func TestRevokedKeyEndsCopiedSession(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	key, k := createAPIKey(t, b.st, b.clock.Now())
	c := b.client()
	c.login(key)
	copied := b.withCookie(b.cookieOf(c))
	if r := copied.get("/ui/endpoints"); r.status != http.StatusOK {
		t.Fatalf("the copied cookie before revocation: %d", r.status)
	}
	if err := b.st.RevokeAPIKey(context.Background(), k.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := copied.get("/ui/endpoints"); r.status != http.StatusSeeOther || r.location != "/ui/login" {
		t.Fatalf("the copied cookie after revocation: %d %q, want 303 to /ui/login", r.status, r.location)
	}
}

// TestCookieHoldsNoKey: a leaked session cookie holds nothing derived from
// the API key: it is not the key's hash in any encoding, does not contain
// it, and two sign-ins with one key get unrelated cookies.
func TestCookieHoldsNoKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	one, two := b.cookieOf(b.admin()), b.cookieOf(b.admin())
	if one == two {
		t.Fatal("two sign-ins with one key got the same cookie")
	}
	sum := sha256.Sum256([]byte(b.adminKey))
	for _, v := range []string{one, two} {
		raw := []byte(v)
		for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
			for _, part := range strings.Split(v, ".") {
				if d, err := enc.DecodeString(part); err == nil {
					raw = append(raw, d...)
				}
			}
		}
		for _, leak := range [][]byte{sum[:], []byte(hex.EncodeToString(sum[:])), []byte(base64.StdEncoding.EncodeToString(sum[:])), []byte(b.adminKey)} {
			if bytes.Contains(raw, leak) {
				t.Fatalf("the cookie %q carries the key or its hash", v)
			}
		}
	}
}

// TestPortalGetKeepsSession: opening a portal link (a GET, which any page
// can make a browser send) with an admin's cookie changes nothing: the
// admin is still the admin, and only the confirming POST opens the portal.
func TestPortalGetKeepsSession(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.twoTenants()
	c := b.admin()
	before := b.cookieOf(c)
	link, err := b.ui.MintPortalLink("acme", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	r := c.get(link)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Open the portal") || !strings.Contains(r.body, "ends that session") {
		t.Fatalf("GET portal link: %d\n%s", r.status, r.body)
	}
	if len((&http.Response{Header: r.header}).Cookies()) != 0 || b.cookieOf(c) != before {
		t.Fatal("GET of a portal link set a cookie")
	}
	if r := c.get("/ui/"); r.status != http.StatusOK || !strings.Contains(r.body, "Admin · all tenants") {
		t.Fatalf("after the GET the admin is not the admin: %d", r.status)
	}
	// A POST without the session's CSRF token is refused.
	if r := c.do("POST", link, url.Values{}); r.status != http.StatusForbidden {
		t.Errorf("POST without a CSRF token: %d, want 403", r.status)
	}
	c.openPortal(link)
	if r := c.get("/ui/"); strings.Contains(r.body, "Admin · all tenants") {
		t.Error("the confirmed portal left the admin session")
	}
	if r := b.withCookie(before).get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Errorf("the replaced admin session still works: %d", r.status)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoginThrottle: 300 wrong keys on /ui/login from one address get the
// form again with 401 up to the limit, then 429 with Retry-After and a
// page that says why, even with the right key; the right key from another
// address signs in; failures are logged with the address, never the key.
func TestLoginThrottle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	logs := &syncBuffer{}
	b.ui.log = slog.New(slog.NewJSONHandler(logs, nil))
	attacker := b.client()
	const wrong = "hr_wrongwrongwrongwrong"
	csrf := attacker.csrf("/ui/login")
	var unauthorized, throttled int
	for i := range 300 {
		r := attacker.do("POST", "/ui/login", url.Values{"api_key": {wrong}, "csrf": {csrf}})
		switch r.status {
		case http.StatusUnauthorized:
			unauthorized++
		case http.StatusTooManyRequests:
			throttled++
			if r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "Too many failed sign-ins") {
				t.Fatalf("429 without Retry-After or a reason: %q\n%s", r.header.Get("Retry-After"), r.body)
			}
		default:
			t.Fatalf("attempt %d: %d\n%s", i, r.status, r.body)
		}
	}
	if unauthorized != 10 || throttled != 290 {
		t.Errorf("%d answered 401 and %d 429; want 10 and 290", unauthorized, throttled)
	}
	if r := attacker.do("POST", "/ui/login", url.Values{"api_key": {b.adminKey}, "csrf": {csrf}}); r.status != http.StatusTooManyRequests {
		t.Errorf("right key from the throttled address: %d, want 429", r.status)
	}
	other := b.client()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	other.hc.Transport = &http.Transport{DialContext: d.DialContext}
	other.login(b.adminKey)
	b.clock.Add(6 * time.Second) // a token back: 10 a minute
	attacker.login(b.adminKey)
	out := logs.String()
	if strings.Contains(out, wrong) || strings.Contains(out, b.adminKey) {
		t.Error("a key was logged")
	}
	if n := strings.Count(out, "sign-in failed"); n < 10 || !strings.Contains(out, `"remote_addr":"127.0.0.1"`) {
		t.Errorf("%d failures logged, want at least 10 with the address:\n%s", n, out)
	}
}
