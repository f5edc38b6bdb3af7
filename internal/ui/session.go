package ui

import (
	"context"
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

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
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

// session is a visitor's session. A signed-in one (kindAdmin, kindTenant)
// is kept by the store (store.Session): the cookie holds only a random
// token, whose SHA-256 is the row's key, so that the cookie carries nothing
// derived from an API key, logging out deletes the row, and revoking the
// key ends it. An anonymous one, which only carries the CSRF nonce of the
// sign-in form, is the signed cookie itself, so that visitors who never
// sign in write nothing to the store.
type session struct {
	Kind   string `json:"k"`
	Tenant string `json:"t,omitempty"` // kindTenant: the only tenant it sees
	// Nonce is random per session; the CSRF token is derived from it. For
	// a stored session it is the cookie's token.
	Nonce   string `json:"n"`
	Expires int64  `json:"e"` // Unix seconds

	// stored: the session is a store.Session; Nonce is its token.
	stored bool
	// keyID is the API key of a stored admin session.
	keyID string
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
	// Only anonymous sessions live in signed cookies; signed-in ones are
	// stored, and a signed cookie claiming one (of an older version, or
	// forged) opens nothing.
	if s.Nonce == "" || now.Unix() >= s.Expires || s.Kind != kindAnon {
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
	if rules.IsSourceTenant(c.Tenant) {
		return c, fmt.Errorf("%w: tenant %q is reserved for inbound sources", ErrInvalidLink, c.Tenant)
	}
	return c, nil
}

// sessionTokenBytes is the length of a stored session's random token.
const sessionTokenBytes = 32

// hashToken returns the SHA-256 of a stored session's token, its key in
// the store.
func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// isToken reports whether a cookie value is a stored session's token
// rather than a signed anonymous session (which has a dot).
func isToken(v string) bool {
	return len(v) == base64.RawURLEncoding.EncodedLen(sessionTokenBytes) && !strings.Contains(v, ".")
}

// storedSession reads the stored session of token, or returns nil if there
// is none (unknown, expired, logged out, its key revoked).
func (u *UI) storedSession(ctx context.Context, token string) (*session, error) {
	st, err := u.store.SessionByHash(ctx, hashToken(token), u.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("look up session: %w", err)
	}
	s := &session{Tenant: st.Tenant, Nonce: token, Expires: st.ExpiresAt.Unix(), stored: true, keyID: st.KeyID}
	switch {
	case st.Kind == store.SessionAdmin:
		s.Kind = kindAdmin
	case st.Kind == store.SessionTenant && !rules.IsSourceTenant(st.Tenant):
		// Sources are the admin's; no portal session sees their tenants.
		s.Kind = kindTenant
	default:
		return nil, nil
	}
	return s, nil
}

// startSession stores a new signed-in session of kind (kindAdmin with the
// API key keyID, or kindTenant of tenant), lasting ttl, sets its cookie,
// and ends old, the session it replaces, if old is stored.
func (u *UI) startSession(ctx context.Context, w http.ResponseWriter, old *session, kind, keyID, tenant string, ttl time.Duration) error {
	if err := u.endSession(ctx, old); err != nil {
		return err
	}
	b := make([]byte, sessionTokenBytes)
	rand.Read(b)
	token := base64.RawURLEncoding.EncodeToString(b)
	now := u.now()
	st := &store.Session{TokenHash: hashToken(token), Kind: store.SessionTenant, Tenant: tenant, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if kind == kindAdmin {
		st.Kind, st.KeyID, st.Tenant = store.SessionAdmin, keyID, ""
	}
	if err := u.store.CreateSession(ctx, st); err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	u.setCookie(w, token, st.ExpiresAt.Unix(), kind != kindAdmin)
	return nil
}

// endSession deletes s from the store if it is stored.
func (u *UI) endSession(ctx context.Context, s *session) error {
	if s == nil || !s.stored {
		return nil
	}
	if err := u.store.DeleteSession(ctx, hashToken(s.Nonce)); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// setSession writes the anonymous session s as the session cookie.
func (u *UI) setSession(w http.ResponseWriter, s *session) error {
	v, err := u.keys.encodeSession(s)
	if err != nil {
		return err
	}
	u.setCookie(w, v, s.Expires, true)
	return nil
}

// setCookie writes the session cookie with value, expiring at expires
// (Unix seconds). A portal's cookie (portal true: an anonymous or tenant
// session) is SameSite=None and Secure when the portal may be framed
// (Config.FrameAncestors), and Partitioned, for the browser to send it
// inside the frame of another site; an admin's never is.
func (u *UI) setCookie(w http.ResponseWriter, value string, expires int64, portal bool) {
	if portal && len(u.frameAncestors) > 0 {
		http.SetCookie(w, &http.Cookie{
			Name: cookieName, Value: value, Path: u.base + "/", MaxAge: max(1, int(expires-u.now().Unix())),
			HttpOnly: true, Secure: true,
			// Cross-site state changes are still refused: every one is
			// a POST with a CSRF token, and the dashboard's
			// CrossOriginProtection refuses cross-origin POSTs.
			SameSite: http.SameSiteNoneMode,
			// Partitioned (CHIPS): kept apart per embedding site, which
			// is what browsers that block third-party cookies still
			// accept in a frame, and which keeps one vendor's frame from
			// seeing the session opened in another's.
			Partitioned: true,
		})
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     cookieName,
		Value:    value,
		Path:     u.base + "/",
		MaxAge:   max(1, int(expires-u.now().Unix())),
		HttpOnly: true,
		Secure:   u.secure,
		// Lax, not Strict: a portal link opened from an e-mail or another
		// site must arrive with the visitor's session, to show what it
		// would replace. Every state change is a POST, which Lax keeps
		// from cross-site requests, and carries a CSRF token.
		SameSite: http.SameSiteLaxMode,
	})
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

// Leader says whether this node runs the periodic jobs when several nodes
// share a store. *leader.Elector implements it.
type Leader interface {
	// Check reports whether this node leads now.
	Check(ctx context.Context) bool
}

// sessionPruneEvery is how often Run prunes sessions.
const sessionPruneEvery = 10 * time.Minute

// Run deletes the stored sessions that have expired or whose API key was
// revoked, at once and then every 10 minutes, on the leader only
// (Config.Leader), until ctx is done; it then returns ctx's error. Such
// sessions open nothing already; Run only keeps the table small.
func (u *UI) Run(ctx context.Context) error {
	t := time.NewTicker(sessionPruneEvery)
	defer t.Stop()
	for {
		if u.leader == nil || u.leader.Check(ctx) {
			if n, err := u.store.PruneSessions(ctx, u.now()); err != nil {
				if ctx.Err() == nil {
					u.log.WarnContext(ctx, "ui: prune sessions", "err", err)
				}
			} else if n > 0 {
				u.log.InfoContext(ctx, "ui: pruned sessions", "sessions", n)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
