package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Pages a tenant portal may show (Branding.Pages).
const (
	PageEndpoints  = "endpoints"
	PageDeliveries = "deliveries"
	PageVerify     = "verify"
)

// Branding is how the tenant portal presents itself. The zero Branding is
// hookrelay's own look with every page.
type Branding struct {
	// ProductName replaces "hookrelay" in the portal's header and title.
	ProductName string
	// LogoURL is an https (or, for tests, http) URL of an image shown in
	// the header; its origin is added to the page's img-src.
	LogoURL string
	// AccentColor is a #rgb or #rrggbb colour for links and buttons.
	AccentColor string
	// Pages are the pages a tenant sees, of PageEndpoints, PageDeliveries
	// and PageVerify; empty: all three.
	Pages []string
}

var colorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// Check reports what is wrong with b.
func (b *Branding) Check() error {
	var errs []error
	if len(b.ProductName) > 64 || strings.ContainsAny(b.ProductName, "\x00\r\n") {
		errs = append(errs, errors.New("product name must be one line of at most 64 bytes"))
	}
	if b.LogoURL != "" {
		u, err := url.Parse(b.LogoURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("logo URL %q must be an absolute http(s) URL", b.LogoURL))
		}
	}
	if b.AccentColor != "" && !colorRE.MatchString(b.AccentColor) {
		errs = append(errs, fmt.Errorf("accent colour %q must be #rgb or #rrggbb", b.AccentColor))
	}
	for _, p := range b.Pages {
		if p != PageEndpoints && p != PageDeliveries && p != PageVerify {
			errs = append(errs, fmt.Errorf("page %q: want endpoints, deliveries or verify", p))
		}
	}
	return errors.Join(errs...)
}

// shows reports whether the portal shows page.
func (b *Branding) shows(page string) bool {
	return len(b.Pages) == 0 || slices.Contains(b.Pages, page)
}

// firstPage is the page a portal opens on.
func (b *Branding) firstPage() string {
	for _, p := range []string{PageEndpoints, PageDeliveries, PageVerify} {
		if b.shows(p) {
			return p
		}
	}
	return PageEndpoints
}

// logoOrigin returns the origin of the logo, for img-src.
func (b *Branding) logoOrigin() string {
	u, err := url.Parse(b.LogoURL)
	if b.LogoURL == "" || err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// brandingOf returns the branding of a session: its tenant's, if it has
// one of its own, or the installation's.
func (u *UI) brandingOf(s *session) *Branding {
	if s != nil && s.Kind == kindTenant {
		if b, ok := u.tenantBranding[s.Tenant]; ok {
			return &b
		}
	}
	return &u.branding
}

// viewBranding is the branding a page shows: none (hookrelay's own) to
// an admin, the session's to a portal or a visitor.
func (u *UI) viewBranding(s *session) *Branding {
	if s != nil && s.admin() {
		return &Branding{}
	}
	return u.brandingOf(s)
}

// portalPage reports whether the request is for a page a portal shows in
// a frame: the portal link pages, and every page of a tenant session.
func (u *UI) portalPage(r *http.Request, s *session) bool {
	return s.Kind == kindTenant || strings.HasPrefix(r.URL.Path, u.base+"/portal")
}

// securityHeaders sets the CSP of the page for session s: frameable by
// Config.FrameAncestors for portal pages (without X-Frame-Options, which
// cannot name origins), by nobody otherwise; with the branding's logo
// origin in img-src.
func (u *UI) securityHeaders(w http.ResponseWriter, r *http.Request, s *session) {
	frame := "'none'"
	if len(u.frameAncestors) > 0 && u.portalPage(r, s) {
		frame = strings.Join(u.frameAncestors, " ")
		w.Header().Del("X-Frame-Options")
	}
	img := "'self' data:"
	if o := u.viewBranding(s).logoOrigin(); o != "" {
		img += " " + o
	}
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src "+img+
		"; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors "+frame)
}

// CheckFrameAncestors reports whether each of origins can be a CSP
// frame-ancestors source: an http(s) origin without path.
func CheckFrameAncestors(origins []string) error {
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Path != "" || u.RawQuery != "" ||
			strings.ContainsAny(o, " ;,'") {
			return fmt.Errorf("frame ancestor %q must be an origin such as https://app.example.com", o)
		}
	}
	return nil
}

// brandCSS serves the colours of the session's branding.
func (u *UI) brandCSS(w http.ResponseWriter, r *http.Request, s *session) error {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	if c := u.viewBranding(s).AccentColor; c != "" {
		// Checked against colorRE: nothing else reaches the stylesheet.
		fmt.Fprintf(w, ":root { --accent: %s; }\n", c)
	}
	return nil
}

// pageShown wraps a page a portal may hide: a tenant session whose
// branding hides it gets the 404 page.
func (u *UI) pageShown(page string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		if s.Kind == kindTenant && !u.brandingOf(s).shows(page) {
			return errNotFound
		}
		return h(w, r, s)
	}
}

// tokenPortalData is the token portal confirmation page's content.
type tokenPortalData struct {
	Tenant string
	Action string
	Token  string
}

// tokenClaims checks a tenant token given to the portal: its MAC, its
// expiry, its minting key (not revoked), and that it holds every scope of
// a portal session.
func (u *UI) tokenClaims(ctx context.Context, token string) (access.TokenClaims, error) {
	refused := &pageError{http.StatusForbidden, "This link is not valid or has expired. Ask for a new one."}
	if u.tokens == nil {
		return access.TokenClaims{}, refused
	}
	c, err := u.tokens.Open(token, u.now())
	if err != nil {
		u.log.InfoContext(ctx, "ui: portal token refused", "error", err)
		return c, refused
	}
	k, err := u.store.GetAPIKey(ctx, c.KeyID)
	if errors.Is(err, store.ErrNotFound) || err == nil && k.RevokedAt != nil {
		return c, refused
	}
	if err != nil {
		return c, fmt.Errorf("look up the key of a portal token: %w", err)
	}
	p := access.Principal{Tenant: &c.Tenant, Scopes: c.Scopes}
	keyP := access.KeyPrincipal(k.ID, k.Tenant, store.KeyScopes(k.Scopes))
	for _, s := range access.PortalScopes {
		if !p.Has(s) || !keyP.Has(s) {
			u.log.InfoContext(ctx, "ui: portal token lacks a portal scope", "scope", s, "key_id", k.ID)
			return c, &pageError{http.StatusForbidden, "This token may not open the portal: it lacks the scope " + string(s) + "."}
		}
	}
	if !keyP.Sees(c.Tenant) {
		return c, refused
	}
	return c, nil
}

// confirmTokenPortal shows GET /portal?token=: which tenant's portal the
// token opens, and a confirming form. Like confirmPortal, a GET changes no
// session, so that no page can sign a visitor in by linking to it.
func (u *UI) confirmTokenPortal(w http.ResponseWriter, r *http.Request, s *session) error {
	token := r.URL.Query().Get("token")
	c, err := u.tokenClaims(r.Context(), token)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "portal_token", &tokenPortalData{Tenant: c.Tenant, Action: u.path("/portal"), Token: token})
	return nil
}

// openTokenPortal, the confirming POST (with the session's CSRF token and
// the token in the form), starts a tenant session that ends when the
// token expires, at the latest.
func (u *UI) openTokenPortal(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.tokenClaims(r.Context(), r.PostForm.Get("token"))
	if err != nil {
		return err
	}
	ttl := min(PortalSessionTTL, c.Expires.Sub(u.now()))
	if err := u.startSession(r.Context(), w, s, kindTenant, "", c.Tenant, ttl); err != nil {
		return err
	}
	u.auditEntry(r, &session{Kind: kindTenant, Tenant: c.Tenant}, "portal.open", &c.Tenant, c.KeyID)
	b := u.brandingOf(&session{Kind: kindTenant, Tenant: c.Tenant})
	http.Redirect(w, r, u.path("/"+b.firstPage()), http.StatusSeeOther)
	return nil
}

// Shows reports whether the page's navigation offers page: always for an
// admin, as the branding says for a portal.
func (v *view) Shows(page string) bool { return v.Admin || v.Brand.shows(page) }
