package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/authlimit"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Bounds on an API key typed into the sign-in form, as the API has them.
const (
	minKeyLen = 12
	maxKeyLen = 256
)

// loginData is the sign-in page's content.
type loginData struct {
	Error string
}

// loginPage shows the sign-in form, or sends a signed-in visitor home.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if s.signedIn() {
		http.Redirect(w, r, u.path("/"), http.StatusSeeOther)
		return nil
	}
	u.render(w, r, s, http.StatusOK, "login", &loginData{})
	return nil
}

// login signs in with an API key: a new stored admin session replaces the
// visitor's session (and its CSRF token). Failures are throttled per
// client address (see internal/authlimit) and logged with the address,
// never the key.
func (u *UI) login(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx := r.Context()
	addr := authlimit.Addr(r)
	if ok, wait := u.limiter.Allow(addr); !ok {
		secs := int(wait / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		u.render(w, r, s, http.StatusTooManyRequests, "login", &loginData{
			Error: fmt.Sprintf("Too many failed sign-ins from your address. Wait %d seconds, then try again.", secs)})
		return nil
	}
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	refuse := func() error {
		u.limiter.Fail(addr)
		u.log.WarnContext(ctx, "ui: sign-in failed", "remote_addr", addr)
		u.render(w, r, s, http.StatusUnauthorized, "login", &loginData{Error: "That API key is not valid, or it has been revoked."})
		return nil
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return refuse()
	}
	k, err := u.store.APIKeyByHash(ctx, hashKey(key))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return refuse()
		}
		return fmt.Errorf("look up api key: %w", err)
	}
	if !access.KeyPrincipal(k.ID, k.Tenant, store.KeyScopes(k.Scopes)).IsAdmin() {
		// A key bound to a tenant or to scopes would sign in as an admin
		// of every tenant: it may not sign in at all.
		u.log.WarnContext(ctx, "ui: sign-in with a limited key refused", "remote_addr", addr, "key_id", k.ID)
		u.render(w, r, s, http.StatusForbidden, "login", &loginData{
			Error: "That key is limited to a tenant or to some scopes. Sign in with an admin key, or open a portal link."})
		return nil
	}
	if err := u.startSession(ctx, w, s, kindAdmin, k.ID, "", AdminSessionTTL); err != nil {
		return err
	}
	u.auditEntry(r, &session{Kind: kindAdmin, keyID: k.ID}, "session.sign_in", nil, k.ID)
	http.Redirect(w, r, u.path("/"), http.StatusSeeOther)
	return nil
}

// logout ends the session: its stored row is deleted, so that a copy of
// the cookie opens nothing either.
func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := u.endSession(r.Context(), s); err != nil {
		return err
	}
	u.clearSession(w)
	u.redirect(w, r, u.path("/login"), "signedout", -1)
	return nil
}

// MintPortalLink returns the path (under the base path, without scheme or
// host) of a link that opens the dashboard for tenant only, valid for ttl
// (0: DefaultPortalLinkTTL; at most MaxPortalLinkTTL). The link is an
// HMAC-signed token holding the tenant and the expiry; opening it starts a
// session of PortalSessionTTL that sees and changes only that tenant's
// endpoints and deliveries. Anyone who holds the link can use it until it
// expires, so hand it only to the tenant. The tenants of inbound sources'
// destinations (store.SourceTenantPrefix) get no portal: sources are the
// admin's. Errors wrap ErrInvalidLink.
func (u *UI) MintPortalLink(tenant string, ttl time.Duration) (path string, err error) {
	if ttl == 0 {
		ttl = DefaultPortalLinkTTL
	}
	if ttl < 0 || ttl > MaxPortalLinkTTL {
		return "", fmt.Errorf("%w: lifetime %v is not between 0 and %v", ErrInvalidLink, ttl, MaxPortalLinkTTL)
	}
	if err := rules.CheckTenant(tenant); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidLink, err)
	}
	if rules.IsSourceTenant(tenant) {
		return "", fmt.Errorf("%w: tenant %q is reserved for the destinations of inbound sources, which only admins manage", ErrInvalidLink, tenant)
	}
	token, err := u.keys.portalToken(portalClaims{Tenant: tenant, Expires: u.now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	return u.path("/portal/") + token, nil
}

// portalData is the portal confirmation page's content.
type portalData struct {
	Tenant string
	Action string // where the confirming form posts
}

// portalClaimsOf checks the request's portal link.
func (u *UI) portalClaimsOf(r *http.Request) (portalClaims, error) {
	c, err := u.keys.openPortalToken(r.PathValue("token"), u.now())
	if err != nil {
		u.log.InfoContext(r.Context(), "ui: portal link refused", "error", err)
		return c, &pageError{http.StatusForbidden, "This link is not valid or has expired. Ask for a new one."}
	}
	return c, nil
}

// confirmPortal checks a portal link and asks to open it. A GET changes
// no session: otherwise any page could sign a visitor, an admin included,
// into a tenant of its choosing by linking an image to a portal link.
func (u *UI) confirmPortal(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.portalClaimsOf(r)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "portal", &portalData{Tenant: c.Tenant, Action: r.URL.EscapedPath()})
	return nil
}

// openPortal, the confirming POST (with the session's CSRF token), starts
// a stored session for the link's tenant, ending the visitor's session,
// then sends the browser on to a URL without the token.
func (u *UI) openPortal(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.portalClaimsOf(r)
	if err != nil {
		return err
	}
	if err := u.startSession(r.Context(), w, s, kindTenant, "", c.Tenant, PortalSessionTTL); err != nil {
		return err
	}
	u.auditEntry(r, &session{Kind: kindTenant, Tenant: c.Tenant}, "portal.open", &c.Tenant, "")
	http.Redirect(w, r, u.path("/"+u.brandingOf(&session{Kind: kindTenant, Tenant: c.Tenant}).firstPage()), http.StatusSeeOther)
	return nil
}
