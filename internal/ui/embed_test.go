package ui

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

var tokenKey = []byte("a token key of at least 32 bytes!!")

func setupEmbedded(t *testing.T) *testBundle {
	return setup(t, &bundleOptions{mutate: func(c *Config) {
		c.FrameAncestors = []string{"https://app.example.com"}
		c.Branding = Branding{ProductName: "Acme Hooks", AccentColor: "#c81e5a", LogoURL: "https://cdn.example.com/logo.svg",
			Pages: []string{PageEndpoints}}
		c.TenantBranding = map[string]Branding{"globex": {ProductName: "Globex Relay"}}
		c.TokenKey = tokenKey
	}})
}

// TestFrameHeaders: portal pages may be framed by the allowlist, admin
// pages never; portal cookies are SameSite=None, Secure and Partitioned,
// admin cookies are not.
func TestFrameHeaders(t *testing.T) {
	t.Parallel()
	b := setupEmbedded(t)
	link, err := b.ui.MintPortalLink("acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	c := b.client()
	r := c.get(link)
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors https://app.example.com") ||
		r.header.Get("X-Frame-Options") != "" {
		t.Errorf("portal link page: CSP %q, X-Frame-Options %q", csp, r.header.Get("X-Frame-Options"))
	}
	ck := r.header.Get("Set-Cookie")
	for _, want := range []string{"Secure", "SameSite=None", "Partitioned", "HttpOnly"} {
		if !strings.Contains(ck, want) {
			t.Errorf("portal cookie %q lacks %s", ck, want)
		}
	}
	c.openPortal(link)
	r = c.get("/ui/endpoints")
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors https://app.example.com") ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "img-src 'self' data: https://cdn.example.com") {
		t.Errorf("tenant page CSP %q", r.header.Get("Content-Security-Policy"))
	}
	if !strings.Contains(r.body, "Acme Hooks") || !strings.Contains(r.body, "https://cdn.example.com/logo.svg") ||
		strings.Contains(r.body, ">Deliveries<") || strings.Contains(r.body, "Verify a signature") {
		t.Errorf("branded tenant page:\n%s", r.body)
	}
	if r := c.get("/ui/deliveries"); r.status != http.StatusNotFound {
		t.Errorf("a hidden page: %d", r.status)
	}
	if r := c.get("/ui/brand.css"); !strings.Contains(r.body, "--accent: #c81e5a") {
		t.Errorf("brand.css: %q", r.body)
	}

	// Admin pages: never framed, no branding, a Lax cookie.
	a := b.client()
	r = a.post("/ui/login", url.Values{"api_key": {b.adminKey}}, "/ui/login")
	if ck := r.header.Get("Set-Cookie"); strings.Contains(ck, "SameSite=None") || strings.Contains(ck, "Partitioned") {
		t.Errorf("admin cookie %q", ck)
	}
	r = a.get("/ui/endpoints")
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") || r.header.Get("X-Frame-Options") != "DENY" ||
		strings.Contains(r.body, "Acme Hooks") || !strings.Contains(r.body, "Verify a signature") {
		t.Errorf("admin page: CSP %q XFO %q", r.header.Get("Content-Security-Policy"), r.header.Get("X-Frame-Options"))
	}
	if r := b.client().get("/ui/login"); !strings.Contains(r.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("sign-in page CSP %q", r.header.Get("Content-Security-Policy"))
	}

	// Per-tenant branding.
	g := b.portal("globex")
	if r := g.get("/ui/endpoints"); !strings.Contains(r.body, "Globex Relay") || strings.Contains(r.body, "Acme Hooks") {
		t.Errorf("globex's branding:\n%s", r.body)
	}
}

var tokenFormRE = regexp.MustCompile(`name="token" value="([^"]+)"`)

// TestTokenPortal: a tenant token holding every portal scope opens the
// portal after a confirming POST with the visitor's CSRF token; a GET
// changes no session; other tokens are refused.
func TestTokenPortal(t *testing.T) {
	t.Parallel()
	b := setupEmbedded(t)
	ctx := context.Background()
	b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "")
	b.endpoint("globex", "http://127.0.0.1:9/globex-hook", "")
	_, k := createAPIKey(t, b.st, b.clock.Now())
	tk, err := access.NewTokens(tokenKey)
	if err != nil {
		t.Fatal(err)
	}
	mint := func(keyID string, scopes []access.Scope, ttl time.Duration) string {
		s, err := tk.Mint(access.TokenClaims{KeyID: keyID, Tenant: "acme", Scopes: scopes, Expires: b.clock.Now().Add(ttl)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := mint(k.ID, access.PortalScopes, 10*time.Minute)

	c := b.client()
	r := c.get("/ui/portal?token=" + url.QueryEscape(good))
	if r.status != 200 || !strings.Contains(r.body, "Open the portal of acme") {
		t.Fatalf("confirm page: %d\n%s", r.status, r.body)
	}
	if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Errorf("the GET signed in: /ui/endpoints = %d", r.status)
	}
	// Without the CSRF token of the visitor's session: refused.
	if r := c.do("POST", "/ui/portal", url.Values{"token": {good}}); r.status != http.StatusForbidden {
		t.Errorf("POST without CSRF: %d", r.status)
	}
	r = c.post("/ui/portal", url.Values{"token": {tokenFormRE.FindStringSubmatch(r.body)[1]}}, "/ui/portal?token="+url.QueryEscape(good))
	if r.status != http.StatusSeeOther || r.location != "/ui/endpoints" {
		t.Fatalf("open: %d %q\n%s", r.status, r.location, r.body)
	}
	r = c.get("/ui/endpoints")
	if !strings.Contains(r.body, "acme-hook") || strings.Contains(r.body, "globex-hook") {
		t.Errorf("token portal page:\n%s", r.body)
	}
	es, _, _ := b.st.ListAudit(ctx, store.AuditFilter{})
	if len(es) == 0 || es[0].Action != "portal.open" || es[0].Target != k.ID {
		t.Errorf("audit: %+v", es)
	}

	// The session ends with the token, at the latest.
	b.clock.Add(10 * time.Minute)
	if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Errorf("after the token expired: %d", r.status)
	}

	// Refused: too few scopes, expired, forged, or its key revoked.
	_, revoked := createAPIKey(t, b.st, b.clock.Now())
	if err := b.st.RevokeAPIKey(ctx, revoked.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{
		"read only": mint(k.ID, []access.Scope{access.EndpointsRead}, time.Minute),
		"expired":   mint(k.ID, access.PortalScopes, 0),
		"revoked":   mint(revoked.ID, access.PortalScopes, time.Minute),
		"forged":    good[:len(good)-3] + "abc",
		"api key":   b.adminKey,
	} {
		if r := b.client().get("/ui/portal?token=" + url.QueryEscape(tok)); r.status != http.StatusForbidden {
			t.Errorf("%s token: %d", name, r.status)
		}
	}
}

func TestBrandingChecks(t *testing.T) {
	t.Parallel()
	for _, bad := range []Branding{{AccentColor: "red"}, {AccentColor: "#12345g"}, {LogoURL: "javascript:alert(1)"}, {Pages: []string{"sources"}},
		{ProductName: "a\nb"}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v passed", bad)
		}
	}
	for _, bad := range [][]string{{"*"}, {"https://a.example.com/x"}, {"'self'"}, {"https://a.example.com;"}} {
		if err := CheckFrameAncestors(bad); err == nil {
			t.Errorf("%v passed", bad)
		}
	}
	if err := CheckFrameAncestors([]string{"https://a.example.com", "http://localhost:3000"}); err != nil {
		t.Error(err)
	}
}
