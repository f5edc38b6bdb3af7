package ui

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/authlimit"
	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Limits of the dashboard's requests.
const (
	// maxFormBytes bounds a form body; the verification helper's pasted
	// body is the largest thing a form holds.
	maxFormBytes = 1 << 20
	// requestTimeout bounds the work of one request.
	requestTimeout = 30 * time.Second
	// MinSessionKeyLen is the shortest Config.SessionKey New accepts.
	MinSessionKeyLen = 32
)

// Config configures a UI. Store and SessionKey are required; the zero
// values of the other fields mean the defaults documented on each.
type Config struct {
	// Store holds everything the dashboard shows. Required.
	Store store.Store
	// Notifier is told when deliveries may have become due (a test event,
	// a retry, a replay). nil: nobody; the engine finds them at its next
	// poll.
	Notifier interface{ Notify() }
	// Logger receives server-side errors. nil: discard. Secrets, API keys
	// and form contents are never logged.
	Logger *slog.Logger
	// SessionKey is the HMAC key of session cookies, CSRF tokens and
	// portal links: at least MinSessionKeyLen (32) random bytes. Keep it
	// stable across restarts, or every session and portal link dies with
	// the process. Required.
	SessionKey []byte
	// AllowPrivateNetworks lets endpoints point at loopback, private and
	// link-local addresses, as the API's setting of the same name.
	AllowPrivateNetworks bool
	// MaxEndpointsPerTenant bounds the endpoints of one tenant, as the
	// API's setting of the same name (see rules.Config).
	MaxEndpointsPerTenant int
	// MaxEndpointTimeout and MaxRetrySchedule bound an endpoint's request
	// timeout and retry schedule, as the API's settings of the same names.
	MaxEndpointTimeout time.Duration
	MaxRetrySchedule   time.Duration
	// Secure sets the Secure flag on the session cookie. Set it whenever
	// the dashboard is reached over HTTPS (browsers also keep Secure
	// cookies from http://localhost); false only for plain-HTTP tests.
	Secure bool
	// Now is the clock. nil: time.Now.
	Now func() time.Time
	// BasePath is where the dashboard is mounted, without a trailing
	// slash. "": "/ui".
	BasePath string
	// AuthFailures is how many failed sign-ins a client address may make
	// in a burst before the sign-in form answers 429, and how many it
	// earns back per minute. 0: authlimit.DefaultFailures (10).
	AuthFailures int
	// Leader, if set, is asked before each of Run's prunes of expired
	// sessions, which then runs only where it says this node leads.
	// nil: always.
	Leader Leader
	// FrameAncestors are the origins (https://app.example.com) that may
	// frame the tenant portal: its pages then carry a CSP frame-ancestors
	// of these and no X-Frame-Options, and portal cookies are
	// SameSite=None; Secure. Admin pages are never frameable. nil: no
	// page is.
	FrameAncestors []string
	// Branding is the portal's look (see Branding); TenantBranding
	// overrides it for some tenants.
	Branding       Branding
	TenantBranding map[string]Branding
	// TokenKey is the API's Config.TokenKey: with it, GET /portal?token=
	// opens the portal from a tenant token (one holding every portal
	// scope). nil: that page refuses every token.
	TokenKey []byte
	// Catalog is the event catalog, on Store, to share with the other
	// handlers of the process (the dashboard, the API) so that a type
	// written through one is seen at once by the events of the other,
	// not after its cache's bound. nil: one of its own.
	Catalog *catalog.Catalog
}

// UI is the dashboard's http.Handler. Create it with New; it is safe for
// concurrent use.
type UI struct {
	store    store.Store
	rules    *rules.Rules
	catalog  *catalog.Catalog
	notifier interface{ Notify() }
	log      *slog.Logger
	now      func() time.Time
	keys     keys
	secure   bool
	base     string
	pages    map[string]*pageTemplate
	static   fs.FS
	handler  http.Handler
	limiter  *authlimit.Limiter
	leader   Leader

	frameAncestors []string
	branding       Branding
	tenantBranding map[string]Branding
	tokens         *access.Tokens
}

// New returns the dashboard for cfg. It fails if the store is missing or
// the session key is too short.
func New(cfg Config) (*UI, error) {
	if cfg.Store == nil {
		return nil, errors.New("ui: Config.Store is nil")
	}
	if len(cfg.SessionKey) < MinSessionKeyLen {
		return nil, fmt.Errorf("ui: Config.SessionKey has %d bytes, want at least %d", len(cfg.SessionKey), MinSessionKeyLen)
	}
	base := strings.TrimSuffix(cfg.BasePath, "/")
	if cfg.BasePath == "" {
		base = "/ui"
	}
	if base != "" && (!strings.HasPrefix(base, "/") || strings.ContainsAny(base, "{}?#")) {
		return nil, fmt.Errorf("ui: Config.BasePath %q must start with / and be a plain path", cfg.BasePath)
	}
	u := &UI{
		store:    cfg.Store,
		notifier: cfg.Notifier,
		log:      cfg.Logger,
		now:      cfg.Now,
		keys:     deriveKeys(cfg.SessionKey),
		secure:   cfg.Secure,
		base:     base,
	}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.now == nil {
		u.now = time.Now
	}
	u.limiter = authlimit.New(&authlimit.Config{Failures: cfg.AuthFailures, Now: u.now})
	if err := CheckFrameAncestors(cfg.FrameAncestors); err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	u.frameAncestors = slices.Clone(cfg.FrameAncestors)
	if err := cfg.Branding.Check(); err != nil {
		return nil, fmt.Errorf("ui: branding: %w", err)
	}
	u.branding = cfg.Branding
	u.tenantBranding = make(map[string]Branding, len(cfg.TenantBranding))
	for t, b := range cfg.TenantBranding {
		if err := b.Check(); err != nil {
			return nil, fmt.Errorf("ui: branding of tenant %q: %w", t, err)
		}
		u.tenantBranding[t] = b
	}
	if cfg.TokenKey != nil {
		tk, err := access.NewTokens(cfg.TokenKey)
		if err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
		u.tokens = tk
	}
	u.leader = cfg.Leader
	var err error
	if u.rules, err = rules.New(rules.Config{
		Store: cfg.Store, AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		MaxEndpointsPerTenant: cfg.MaxEndpointsPerTenant, Now: u.now,
		MaxEndpointTimeout: cfg.MaxEndpointTimeout, MaxRetrySchedule: cfg.MaxRetrySchedule,
	}); err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	if u.catalog = cfg.Catalog; u.catalog == nil {
		if u.catalog, err = catalog.New(&catalog.Config{Store: cfg.Store, Now: u.now}); err != nil {
			return nil, fmt.Errorf("ui: %w", err)
		}
	}
	if u.pages, err = parsePages(u.funcs()); err != nil {
		return nil, err
	}
	if u.static, err = fs.Sub(assets, "static"); err != nil {
		return nil, fmt.Errorf("ui: static assets: %w", err)
	}
	u.handler = http.NewCrossOriginProtection().Handler(u.routes())
	return u, nil
}

// routes returns the dashboard's mux.
func (u *UI) routes() *http.ServeMux {
	b := u.base
	mux := http.NewServeMux()
	handle := func(pattern string, h http.Handler) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+b+path, h)
	}
	handle("GET /static/", http.StripPrefix(b+"/static/", staticHandler(u.static)))
	handle("GET /login", u.public(u.loginPage))
	handle("POST /login", u.public(u.login))
	handle("POST /logout", u.public(u.logout))
	handle("GET /portal", u.public(u.confirmTokenPortal))
	handle("POST /portal", u.public(u.openTokenPortal))
	handle("GET /brand.css", u.public(u.brandCSS))
	handle("GET /portal/{token}", u.public(u.confirmPortal))
	handle("POST /portal/{token}", u.public(u.openPortal))

	handle("GET /{$}", u.page(u.home))
	handle("GET /endpoints", u.page(u.pageShown(PageEndpoints, u.listEndpoints)))
	handle("GET /endpoints/new", u.page(u.newEndpoint))
	handle("POST /endpoints", u.page(u.audited("endpoint.create", u.createEndpoint)))
	handle("GET /endpoints/{id}", u.page(u.showEndpoint))
	handle("GET /endpoints/{id}/edit", u.page(u.editEndpoint))
	handle("POST /endpoints/{id}", u.page(u.audited("endpoint.update", u.updateEndpoint)))
	handle("POST /endpoints/{id}/secret/reveal", u.page(u.audited("secret.reveal", u.revealSecret)))
	handle("POST /endpoints/{id}/secret/rotate", u.page(u.audited("secret.rotate", u.rotateSecret)))
	handle("GET /endpoints/{id}/delete", u.page(u.confirmDelete))
	handle("POST /endpoints/{id}/delete", u.page(u.audited("endpoint.delete", u.deleteEndpoint)))
	handle("POST /endpoints/{id}/test", u.page(u.audited("endpoint.test", u.sendTest)))
	handle("GET /deliveries", u.page(u.pageShown(PageDeliveries, u.listDeliveries)))
	handle("POST /deliveries/replay", u.page(u.audited("delivery.replay", u.replay)))
	handle("GET /deliveries/{id}", u.page(u.showDelivery))
	handle("GET /replays", u.page(u.pageShown(PageDeliveries, u.listReplays)))
	handle("GET /replays/{id}", u.page(u.pageShown(PageDeliveries, u.showReplay)))
	handle("POST /replays/{id}/cancel", u.page(u.pageShown(PageDeliveries, u.audited("replay.cancel", u.cancelReplay))))
	handle("POST /deliveries/{id}/retry", u.page(u.audited("delivery.retry", u.retry)))
	handle("POST /events/{id}/erase", u.page(adminOnly(u.audited("event.erase", u.eraseEvent))))
	// Inbound sources belong to no tenant: admin sessions only.
	handle("GET /sources", u.page(adminOnly(u.listSources)))
	handle("GET /sources/new", u.page(adminOnly(u.newSource)))
	handle("POST /sources", u.page(adminOnly(u.audited("source.create", u.createSource))))
	handle("GET /sources/{id}", u.page(adminOnly(u.showSource)))
	handle("GET /sources/{id}/edit", u.page(adminOnly(u.editSource)))
	handle("POST /sources/{id}", u.page(adminOnly(u.audited("source.update", u.updateSource))))
	handle("GET /sources/{id}/delete", u.page(adminOnly(u.confirmDeleteSource)))
	handle("POST /sources/{id}/delete", u.page(adminOnly(u.audited("source.delete", u.deleteSource))))
	handle("GET /keys", u.page(adminOnly(u.listKeys)))
	handle("GET /audit", u.page(adminOnly(u.listAudit)))
	handle("GET /event-types", u.page(u.listEventTypes))
	handle("GET /event-types/new", u.page(adminOnly(u.newEventType)))
	handle("POST /event-types", u.page(adminOnly(u.audited("event_type.create", u.createEventType))))
	handle("GET /event-types/{name}", u.page(u.showEventType))
	handle("GET /event-types/{name}/edit", u.page(adminOnly(u.editEventType)))
	handle("POST /event-types/{name}", u.page(adminOnly(u.audited("event_type.update", u.updateEventType))))
	handle("GET /event-types/{name}/delete", u.page(adminOnly(u.confirmDeleteEventType)))
	handle("POST /event-types/{name}/delete", u.page(adminOnly(u.audited("event_type.delete", u.deleteEventType))))
	handle("POST /event-types/{name}/send-example", u.page(adminOnly(u.audited("event_type.send_example", u.sendExample))))
	handle("GET /verify", u.page(u.pageShown(PageVerify, u.verifyPage)))
	handle("POST /verify", u.page(u.pageShown(PageVerify, u.verify)))
	if b != "" {
		mux.Handle("GET "+b, http.RedirectHandler(b+"/", http.StatusMovedPermanently))
	}
	// Unknown paths get the 404 page without starting a session: a stray
	// request must not replace the cookie of a form being filled in.
	mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		u.writeError(w, r, nil, errNotFound)
	})
	return mux
}

// ServeHTTP serves the dashboard: it sets the security headers every
// response carries, refuses cross-origin state changes, and dispatches to
// the pages.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	u.handler.ServeHTTP(w, r.WithContext(ctx))
}

// path returns the URL path of a dashboard page: the base path and p.
func (u *UI) path(p string, args ...any) string {
	if len(args) > 0 {
		esc := make([]any, len(args))
		for i, a := range args {
			esc[i] = url.PathEscape(fmt.Sprint(a))
		}
		p = fmt.Sprintf(p, esc...)
	}
	return u.base + p
}

// handlerFunc is a page handler: it writes a response, or returns an error
// that is rendered as an error page (a *pageError as it says, anything else
// as 500).
type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session) error

// pageError is an error page with a status and a message for people.
type pageError struct {
	Status  int
	Message string
}

func (e *pageError) Error() string { return e.Message }

var (
	errNotFound  = &pageError{http.StatusNotFound, "There is nothing here, or you may not see it."}
	errForbidden = &pageError{http.StatusForbidden, "This form has expired or did not come from this page. Go back, reload the page and try again."}
)

// notFoundOr turns the store's ErrNotFound into the 404 page and wraps
// other errors.
func notFoundOr(err error, what, id string) error {
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	return fmt.Errorf("%s %s: %w", what, id, err)
}

// public wraps a handler that anyone may call: it loads the session, or
// starts an anonymous one, and checks the CSRF token of POSTs.
func (u *UI) public(h handlerFunc) http.Handler {
	return u.wrap(h, false)
}

// page wraps a handler that needs a signed-in session: visitors are sent
// to the sign-in page (GET) or refused (POST).
func (u *UI) page(h handlerFunc) http.Handler {
	return u.wrap(h, true)
}

// wrap loads the session, turns visitors away from pages that need a
// sign-in (needLogin), checks the CSRF token of every POST and renders
// the handler's error.
func (u *UI) wrap(h handlerFunc, needLogin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		s, err := u.session(w, r)
		if err != nil {
			u.writeError(w, r, nil, err)
			return
		}
		u.securityHeaders(w, r, s)
		if needLogin && !s.signedIn() {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, u.path("/login"), http.StatusSeeOther)
				return
			}
			u.writeError(w, r, s, &pageError{http.StatusForbidden, "Your session has ended. Sign in again."})
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					u.writeError(w, r, s, &pageError{http.StatusRequestEntityTooLarge, fmt.Sprintf("The form is larger than %d bytes.", maxFormBytes)})
					return
				}
				u.writeError(w, r, s, &pageError{http.StatusBadRequest, "The form could not be read."})
				return
			}
			if !u.keys.checkCSRF(s, r.PostForm.Get("csrf")) {
				u.writeError(w, r, s, errForbidden)
				return
			}
		}
		if err := h(w, r, s); err != nil {
			u.writeError(w, r, s, err)
		}
	})
}

// session returns the request's session. Without a valid cookie (none,
// forged, expired, logged out, its API key revoked) it starts an anonymous
// one and sets its cookie.
func (u *UI) session(w http.ResponseWriter, r *http.Request) (*session, error) {
	if c, err := r.Cookie(cookieName); err == nil {
		if isToken(c.Value) {
			s, err := u.storedSession(r.Context(), c.Value)
			if err != nil {
				return nil, err
			}
			if s != nil {
				return s, nil
			}
		} else if s, err := u.keys.decodeSession(c.Value, u.now()); err == nil {
			return s, nil
		}
	}
	s := u.newSession(kindAnon, anonSessionTTL)
	if err := u.setSession(w, s); err != nil {
		return nil, err
	}
	return s, nil
}

// hashKey returns the SHA-256 of an API key, as store.APIKey.Hash holds it.
func hashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// notify tells the Notifier that deliveries may be due.
func (u *UI) notify() {
	if u.notifier != nil {
		u.notifier.Notify()
	}
}

// writeError renders err as an error page: a *pageError with its status
// and message, anything else logged and shown as a generic 500 (503 when
// the request ran out of time or the store cannot write).
func (u *UI) writeError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var pe *pageError
	if !errors.As(err, &pe) {
		pe = &pageError{http.StatusInternalServerError, "Something went wrong on the server. Try again; if it keeps happening, the server's log says why."}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			pe = &pageError{http.StatusServiceUnavailable, "The server took too long to answer. Try again."}
		case errors.Is(err, store.ErrUnavailable):
			// A full disk or a read-only database: the operator must act.
			w.Header().Set("Retry-After", "30")
			pe = &pageError{http.StatusServiceUnavailable, "The server cannot store data for now (its disk may be full). Try again later."}
		}
		u.log.ErrorContext(r.Context(), "ui request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	if s == nil {
		s = &session{Kind: kindAnon}
	}
	u.render(w, r, s, pe.Status, "error", &errorData{Message: pe.Message, Status: pe.Status})
}

// errorData is the error page's content.
type errorData struct {
	Status  int
	Message string
}

// render writes the page name with data, inside the layout, with status.
// It renders to a buffer first, so that a template error becomes a clean
// 500.
func (u *UI) render(w http.ResponseWriter, r *http.Request, s *session, status int, name string, data any) {
	pt, ok := u.pages[name]
	if !ok {
		u.log.ErrorContext(r.Context(), "ui: no such page template", "page", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := &view{
		Brand:    u.viewBranding(s),
		Base:     u.base,
		SignedIn: s.signedIn(),
		Admin:    s.admin(),
		Tenant:   s.Tenant,
		CSRF:     u.keys.csrfToken(s),
		Data:     data,
		Flash:    flashMessage(r.URL.Query()),
		Path:     r.URL.Path,
	}
	var buf bytes.Buffer
	if err := pt.t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.log.ErrorContext(r.Context(), "ui: render page", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// view is what every page template gets: the layout's needs and the page's
// Data.
type view struct {
	Brand    *Branding // the portal's look; hookrelay's own for admins
	Base     string
	SignedIn bool
	Admin    bool   // sees every tenant
	Tenant   string // the only tenant a portal session sees
	CSRF     string
	Data     any
	Flash    string
	Path     string
}

// redirect sends the browser to the page p (a path under the base, built
// by the caller) after a POST, with a flash code.
func (u *UI) redirect(w http.ResponseWriter, r *http.Request, p string, flash string, n int) {
	if flash != "" {
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		p += sep + "flash=" + url.QueryEscape(flash)
		if n >= 0 {
			p += fmt.Sprintf("&n=%d", n)
		}
	}
	http.Redirect(w, r, p, http.StatusSeeOther)
}

// flashMessages are the fixed messages a redirect can ask a page to show;
// the query names one by code, so no text from the URL is ever shown.
var flashMessages = map[string]string{
	"created":        "Endpoint created.",
	"updated":        "Endpoint saved.",
	"deleted":        "Endpoint deleted.",
	"retried":        "Delivery queued for another attempt.",
	"replaycanceled": "Replay canceled: no batch of it runs any more.",
	"replayed":       "Failed deliveries queued again: %d.",
	"signedout":      "Signed out.",
	"testsent":       "Test event sent.",
	"nonereplay":     "No failed deliveries matched; nothing was queued.",

	"source_created": "Source created.",
	"source_updated": "Source saved.",
	"source_deleted": "Source deleted, with its destinations.",
	"type_created":   "Event type created.",
	"type_updated":   "Event type saved.",
	"type_deleted":   "Event type deleted.",
	"example_sent":   "Example sent.",
	"erased":         "Payload erased; its pending deliveries are canceled.",
}

// flashMessage returns the message the query's flash code asks for, "" if
// none.
func flashMessage(q url.Values) string {
	msg, ok := flashMessages[q.Get("flash")]
	if !ok {
		return ""
	}
	if strings.Contains(msg, "%d") {
		var n int
		fmt.Sscanf(q.Get("n"), "%d", &n)
		return fmt.Sprintf(msg, n)
	}
	return msg
}

// staticHandler serves the embedded CSS and JavaScript, cacheable for an
// hour.
func staticHandler(fsys fs.FS) http.Handler {
	fileServer := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fileServer.ServeHTTP(w, r)
	})
}
