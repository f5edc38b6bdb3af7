package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Lifetimes of sessions and portal links.
const (
	// AdminSessionTTL is how long a sign-in with an API key lasts.
	AdminSessionTTL = 12 * time.Hour
	// PortalSessionTTL is how long the session opened by a portal link
	// lasts, whatever was left of the link's own lifetime.
	PortalSessionTTL = time.Hour
	// DefaultPortalLinkTTL is the lifetime of a portal link minted with a
	// zero ttl.
	DefaultPortalLinkTTL = 15 * time.Minute
	// MaxPortalLinkTTL is the longest lifetime a portal link may have.
	MaxPortalLinkTTL = 7 * 24 * time.Hour
	// anonSessionTTL is the lifetime of the session a visitor gets before
	// signing in, which carries the CSRF token of the sign-in form.
	anonSessionTTL = 2 * time.Hour
)

// cookieName is the session cookie's name.
const cookieName = "hookrelay_ui"

// Errors about portal links and session cookies.
var (
	// ErrInvalidLink is returned (wrapped) by MintPortalLink for an
	// unusable tenant or lifetime, and by the portal route for a link that
	// is forged, malformed or expired.
	ErrInvalidLink = errors.New("invalid portal link")
	// errBadCookie: a session cookie that is forged, malformed or expired.
	errBadCookie = errors.New("invalid session cookie")
)

// Session kinds.
const (
	kindAnon   = "anon"   // not signed in; carries a CSRF nonce
	kindAdmin  = "admin"  // signed in with an API key: every tenant
	kindTenant = "tenant" // opened through a portal link: one tenant
)

// session is the signed content of the session cookie. The server keeps
// no session state: the cookie is the session, authenticated with
// HMAC-SHA256 and carrying its own expiry.
type session struct {
	Kind   string `json:"k"`
	Tenant string `json:"t,omitempty"` // kindTenant: the only tenant it sees
	// KeyHash is the SHA-256 of the API key an admin signed in with; every
	// request checks that the key is still unrevoked.
	KeyHash []byte `json:"h,omitempty"`
	// Nonce is random per session; the CSRF token is derived from it.
	Nonce   string `json:"n"`
	Expires int64  `json:"e"` // Unix seconds
}

// admin reports whether the session sees every tenant.
func (s *session) admin() bool { return s.Kind == kindAdmin }

// signedIn reports whether the session may see endpoints at all.
func (s *session) signedIn() bool { return s.Kind == kindAdmin || s.Kind == kindTenant }

// tenantFilter returns the tenant filter for store lists: nil (any tenant)
// for an admin, the session's tenant otherwise.
func (s *session) tenantFilter() *string {
	if s.admin() {
		return nil
	}
	t := s.Tenant
	return &t
}

// sees reports whether the session may see a resource of tenant.
func (s *session) sees(tenant string) bool {
	return s.admin() || s.Kind == kindTenant && s.Tenant == tenant
}

// keys are the subkeys derived from Config.SessionKey, one per purpose, so
// that a value signed for one purpose never verifies for another.
type keys struct {
	cookie []byte
	csrf   []byte
	portal []byte
}

// deriveKeys derives the purpose keys from the session key.
func deriveKeys(master []byte) keys {
	derive := func(purpose string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte("hookrelay ui v1 " + purpose))
		return m.Sum(nil)
	}
	return keys{cookie: derive("session cookie"), csrf: derive("csrf token"), portal: derive("portal link")}
}

// sign returns payload and its MAC under key, both base64url, joined by a
// dot.
func sign(key []byte, payload []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(m.Sum(nil))
}

// open checks a value made by sign and returns its payload.
func open(key []byte, value string) ([]byte, bool) {
	p, s, ok := strings.Cut(value, ".")
	if !ok {
		return nil, false
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	mac, err2 := enc.DecodeString(s)
	if err1 != nil || err2 != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	if !hmac.Equal(mac, m.Sum(nil)) {
		return nil, false
	}
	return payload, true
}

// newNonce returns 16 random bytes, base64url.
func newNonce() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// encodeSession signs s for the cookie.
func (k keys) encodeSession(s *session) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode session: %w", err)
	}
	return sign(k.cookie, b), nil
}

// decodeSession checks a cookie value and returns its session, or
// errBadCookie if it is forged, malformed or expired at now.
func (k keys) decodeSession(value string, now time.Time) (*session, error) {
	b, ok := open(k.cookie, value)
	if !ok {
		return nil, errBadCookie
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errBadCookie
	}
	switch {
	case s.Nonce == "", now.Unix() >= s.Expires:
		return nil, errBadCookie
	case s.Kind == kindTenant && isSourceTenant(s.Tenant):
		// Sources are the admin's; no portal session sees their tenants.
		return nil, errBadCookie
	case s.Kind == kindAnon, s.Kind == kindTenant:
	case s.Kind == kindAdmin && len(s.KeyHash) == sha256.Size:
	default:
		return nil, errBadCookie
	}
	return &s, nil
}

// csrfToken returns the CSRF token of the session: a MAC of its nonce.
func (k keys) csrfToken(s *session) string {
	m := hmac.New(sha256.New, k.csrf)
	m.Write([]byte(s.Nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF reports whether token is the session's CSRF token.
func (k keys) checkCSRF(s *session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(k.csrfToken(s)))
}

// portalClaims is the signed content of a portal link.
type portalClaims struct {
	Tenant  string `json:"t"`
	Expires int64  `json:"e"` // Unix seconds
}

// portalToken returns the signed token of a portal link.
func (k keys) portalToken(c portalClaims) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode portal link: %w", err)
	}
	return sign(k.portal, b), nil
}

// openPortalToken checks a portal link's token and returns its claims, or
// an error wrapping ErrInvalidLink.
func (k keys) openPortalToken(token string, now time.Time) (portalClaims, error) {
	var c portalClaims
	b, ok := open(k.portal, token)
	if !ok {
		return c, fmt.Errorf("%w: bad signature", ErrInvalidLink)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrInvalidLink, err)
	}
	if now.Unix() >= c.Expires {
		return c, fmt.Errorf("%w: expired at %s", ErrInvalidLink, time.Unix(c.Expires, 0).UTC().Format(time.RFC3339))
	}
	if isSourceTenant(c.Tenant) {
		return c, fmt.Errorf("%w: tenant %q is reserved for inbound sources", ErrInvalidLink, c.Tenant)
	}
	return c, nil
}

// setSession writes s as the session cookie.
func (u *UI) setSession(w http.ResponseWriter, s *session) error {
	v, err := u.keys.encodeSession(s)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    v,
		Path:     u.base + "/",
		MaxAge:   max(1, int(s.Expires-u.now().Unix())),
		HttpOnly: true,
		Secure:   u.secure,
		// Lax, not Strict: a portal link opened from an e-mail or another
		// site must arrive signed in. Every state change is a POST, which
		// Lax keeps from cross-site requests, and carries a CSRF token.
		SameSite: http.SameSiteLaxMode,
	})
	return nil
}

// clearSession deletes the session cookie.
func (u *UI) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    "",
		Path:     u.base + "/",
		MaxAge:   -1,
		HttpOnly: true,
		Secure:   u.secure,
		SameSite: http.SameSiteLaxMode,
	})
}

// newSession returns a session of kind with a fresh nonce, expiring ttl
// from now.
func (u *UI) newSession(kind string, ttl time.Duration) *session {
	return &session{Kind: kind, Nonce: newNonce(), Expires: u.now().Add(ttl).Unix()}
}
