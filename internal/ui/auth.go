package ui

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

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

// login signs in with an API key: a new admin session replaces the
// anonymous one (and its CSRF token).
func (u *UI) login(w http.ResponseWriter, r *http.Request, s *session) error {
	key := strings.TrimSpace(r.PostForm.Get("api_key"))
	refuse := func() error {
		u.render(w, r, s, http.StatusUnauthorized, "login", &loginData{Error: "That API key is not valid, or it has been revoked."})
		return nil
	}
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return refuse()
	}
	hash := hashKey(key)
	if _, err := u.store.APIKeyByHash(r.Context(), hash); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return refuse()
		}
		return fmt.Errorf("look up api key: %w", err)
	}
	ns := u.newSession(kindAdmin, AdminSessionTTL)
	ns.KeyHash = hash
	if err := u.setSession(w, ns); err != nil {
		return err
	}
	http.Redirect(w, r, u.path("/"), http.StatusSeeOther)
	return nil
}

// logout ends the session.
func (u *UI) logout(w http.ResponseWriter, r *http.Request, s *session) error {
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
	if err := checkTenant(tenant); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidLink, err)
	}
	if isSourceTenant(tenant) {
		return "", fmt.Errorf("%w: tenant %q is reserved for the destinations of inbound sources, which only admins manage", ErrInvalidLink, tenant)
	}
	token, err := u.keys.portalToken(portalClaims{Tenant: tenant, Expires: u.now().Add(ttl).Unix()})
	if err != nil {
		return "", err
	}
	return u.path("/portal/") + token, nil
}

// openPortal checks a portal link and starts a session for its tenant,
// then sends the browser on to a URL without the token.
func (u *UI) openPortal(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.keys.openPortalToken(r.PathValue("token"), u.now())
	if err != nil {
		u.log.InfoContext(r.Context(), "ui: portal link refused", "error", err)
		return &pageError{http.StatusForbidden, "This link is not valid or has expired. Ask for a new one."}
	}
	ns := u.newSession(kindTenant, PortalSessionTTL)
	ns.Tenant = c.Tenant
	if err := u.setSession(w, ns); err != nil {
		return err
	}
	http.Redirect(w, r, u.path("/endpoints"), http.StatusSeeOther)
	return nil
}
