// Package api serves hookrelay's REST API: JSON over HTTP under /api/v1 for
// endpoints, events, deliveries, API keys and inbound sources.
// docs/openapi.yaml describes every route; a test keeps the two in step.
//
// Every call needs an Authorization: Bearer <key> header naming an unrevoked
// API key, or a tenant token one minted. Each route needs a scope
// (internal/access; the route table in New names it), and a key bound to a
// tenant sees only that tenant: another tenant's resources answer 404 as
// unknown ids do, lists hold only its own, and a create body naming
// another tenant gets 403. Every successful change is recorded in the
// audit log. Errors are JSON objects of the form
//
//	{"error":{"code":"invalid_request","message":"..."}}
//
// with the status saying what kind: 400 for a request that cannot be read
// (malformed JSON, with its byte offset), 401 without a valid key, 403
// outside the key's scopes (error.scope names the missing one), 404 for an
// unknown id, 409 for a conflict, 413 for an oversized body or payload, 422
// for a well-formed request whose content is refused (an unknown signature
// scheme, a URL in a private network), 429 with Retry-After for a client
// address that failed to authenticate too often (see internal/authlimit:
// 10 failures, then 10 more a minute; failures are logged with the
// address, never the key).
//
// An event is accepted only once it and its deliveries are committed to the
// store; the API then tells its Notifier, so that the delivery engine need
// not wait for its next poll. Event payloads are kept as the exact JSON text
// received.
package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/authlimit"
	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Defaults of the Config fields.
const (
	DefaultIdempotencyWindow = 24 * time.Hour
	DefaultMaxPayloadBytes   = 1 << 20
	DefaultRotationOverlap   = rules.DefaultRotationOverlap
	DefaultRequestTimeout    = 30 * time.Second
)

// Limits on what requests may hold.
const (
	// MaxRotationOverlap is the longest overlap a rotation may ask for.
	MaxRotationOverlap = rules.MaxRotationOverlap
	// maxBodyBytes bounds request bodies other than events'.
	maxBodyBytes = 64 << 10
	// eventEnvelopeBytes is what an event request may hold beyond its
	// payload.
	eventEnvelopeBytes = 16 << 10
	// keyCacheTTL is how long a verified API key is trusted without asking
	// the store again, which bounds how late a revocation made elsewhere
	// (another process) takes effect.
	keyCacheTTL = 5 * time.Second
)

// Config configures an API. Store is required; the zero values of the other
// fields mean the defaults documented on each.
type Config struct {
	// Store holds everything the API serves. Required.
	Store store.Store
	// Catalog is the event catalog, on Store, to share with the other
	// handlers of the process (the dashboard, the API) so that a type
	// written through one is seen at once by the events of the other,
	// not after its cache's bound. nil: one of its own.
	Catalog *catalog.Catalog
	// Notifier is told whenever deliveries may have become due (an event
	// was accepted, a delivery retried, failures replayed). nil: nobody.
	Notifier interface{ Notify() }
	// Logger receives server-side errors. nil: discard. Request bodies and
	// secrets are never logged.
	Logger *slog.Logger
	// AllowPrivateNetworks lets endpoints point at loopback, private and
	// link-local addresses. Off, such URLs are refused with 422.
	AllowPrivateNetworks bool
	// Now is the clock. nil: time.Now.
	Now func() time.Time
	// IdempotencyWindow is how long an idempotency key is remembered.
	// 0: DefaultIdempotencyWindow (24 h).
	IdempotencyWindow time.Duration
	// MaxPayloadBytes bounds an event's payload. 0: DefaultMaxPayloadBytes
	// (1 MiB).
	MaxPayloadBytes int64
	// RotationOverlap is how long a rotated-out secret keeps signing when
	// the rotation request does not say. 0: DefaultRotationOverlap (24 h).
	RotationOverlap time.Duration
	// RequestTimeout bounds the work of one request. 0:
	// DefaultRequestTimeout (30 s).
	RequestTimeout time.Duration
	// MaxEndpointsPerTenant bounds the endpoints of one tenant (see
	// rules.Config). 0: rules.DefaultMaxEndpointsPerTenant; negative: no
	// bound.
	MaxEndpointsPerTenant int
	// MaxEndpointTimeout and MaxRetrySchedule bound the request timeout
	// and the retry schedule an endpoint may set (see rules.Config); 0:
	// the rules' defaults.
	MaxEndpointTimeout time.Duration
	MaxRetrySchedule   time.Duration
	// PortalLinks mints tenant portal links for POST /api/v1/portal-links.
	// nil: the route answers 404.
	PortalLinks PortalLinkMinter
	// AuthFailures is how many failed authentications a client address
	// may make in a burst before its requests get 429, and how many it
	// earns back per minute. 0: authlimit.DefaultFailures (10).
	AuthFailures int
	// Tracer, if set, traces event posts (internal/tracing implements
	// it); nil traces nothing.
	Tracer Tracer
	// TokenKey, at least 32 bytes, signs the tenant tokens of POST
	// /api/v1/tenant-tokens (HMAC-SHA256). nil: that route answers 404
	// and no token is accepted. Every node of an installation needs the
	// same key.
	TokenKey []byte
	// MaxReplayRate caps the rate (deliveries per second) a replay job may
	// ask for, and is the rate of one that asks for none. 0:
	// DefaultMaxReplayRate (500).
	MaxReplayRate int
	// Replayer is woken when a replay job is created (delivery.Replayer);
	// nil: the job waits for the replayer's next poll.
	Replayer interface{ Wake() }
}

// A Tracer reports the spans of an event post: the request, the storage
// of the event, and the traceparent stored with the event so that its
// deliveries' spans link to the request's.
type Tracer interface {
	StartRequest(ctx context.Context, r *http.Request, name string) (context.Context, func(status int))
	StartStorage(ctx context.Context, name string) (context.Context, func(error))
	TraceParent(ctx context.Context) string
}

// API is the http.Handler of the /api/v1 routes. Create it with New.
type API struct {
	store    store.Store
	rules    *rules.Rules
	catalog  *catalog.Catalog
	notifier interface{ Notify() }
	log      *slog.Logger
	now      func() time.Time

	idemWindow time.Duration
	maxPayload int64
	timeout    time.Duration

	routes  []route
	mux     *http.ServeMux
	keys    *keyCache
	portal  PortalLinkMinter
	limiter *authlimit.Limiter
	tracer  Tracer

	maxReplayRate int
	replayer      interface{ Wake() }
	tokens        *access.Tokens
}

// route is one registered pattern, the scope its calls need, the audit
// log action its successful calls record ("" for none) and its handler.
type route struct {
	method string
	path   string
	scope  access.Scope
	audit  string
	handle handlerFunc
}

// handlerFunc is a route handler: it writes a success response, or returns
// an error that the API writes (an *Error as it is, anything else as 500).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// New returns an API serving cfg.Store. It fails if cfg.Store is nil, as
// the other constructors (ui.New, inbound.New, delivery.New) do.
func New(cfg Config) (*API, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is nil")
	}
	a := &API{
		store:      cfg.Store,
		notifier:   cfg.Notifier,
		log:        cfg.Logger,
		now:        cfg.Now,
		idemWindow: orDefault(cfg.IdempotencyWindow, DefaultIdempotencyWindow),
		maxPayload: orDefault(cfg.MaxPayloadBytes, DefaultMaxPayloadBytes),
		timeout:    orDefault(cfg.RequestTimeout, DefaultRequestTimeout),
		portal:     cfg.PortalLinks,
		tracer:     cfg.Tracer,

		maxReplayRate: cmp.Or(cfg.MaxReplayRate, DefaultMaxReplayRate),
		replayer:      cfg.Replayer,
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	rl, err := rules.New(rules.Config{
		Store:                 cfg.Store,
		AllowPrivateNetworks:  cfg.AllowPrivateNetworks,
		RotationOverlap:       cfg.RotationOverlap,
		MaxEndpointsPerTenant: cfg.MaxEndpointsPerTenant,
		MaxEndpointTimeout:    cfg.MaxEndpointTimeout,
		MaxRetrySchedule:      cfg.MaxRetrySchedule,
		Now:                   a.now,
	})
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	a.rules = rl
	if a.catalog = cfg.Catalog; a.catalog == nil {
		if a.catalog, err = catalog.New(&catalog.Config{Store: cfg.Store, Now: a.now}); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	a.keys = newKeyCache()
	a.limiter = authlimit.New(&authlimit.Config{Failures: cfg.AuthFailures, Now: a.now})
	if cfg.TokenKey != nil {
		if a.tokens, err = access.NewTokens(cfg.TokenKey); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	const (
		epRead, epWrite   = access.EndpointsRead, access.EndpointsWrite
		dRead, dWrite     = access.DeliveriesRead, access.DeliveriesWrite
		srcRead, srcWrite = access.SourcesRead, access.SourcesWrite
	)
	a.routes = []route{
		{"POST", "/api/v1/endpoints", epWrite, "endpoint.create", a.createEndpoint},
		{"GET", "/api/v1/endpoints", epRead, "", a.listEndpoints},
		{"GET", "/api/v1/endpoints/{id}", epRead, "", a.getEndpoint},
		{"PATCH", "/api/v1/endpoints/{id}", epWrite, "endpoint.update", a.updateEndpoint},
		{"DELETE", "/api/v1/endpoints/{id}", epWrite, "endpoint.delete", a.deleteEndpoint},
		{"POST", "/api/v1/endpoints/{id}/rotate-secret", epWrite, "secret.rotate", a.rotateSecret},
		{"POST", "/api/v1/endpoints/{id}/test-filter", epRead, "", a.testFilter},
		{"POST", "/api/v1/endpoints/{id}/secret/reveal", access.SecretsRead, "secret.reveal", a.revealSecret},
		{"GET", "/api/v1/endpoints/{id}/deliveries", dRead, "", a.listEndpointDeliveries},
		{"POST", "/api/v1/endpoints/{id}/replay", dWrite, "delivery.replay", a.replayEndpoint},
		{"POST", "/api/v1/endpoints/{id}/replay-missing", dWrite, "delivery.replay_missing", a.replayMissing},
		{"GET", "/api/v1/endpoints/{id}/stats", dRead, "", a.endpointStats},
		// Bulk replay jobs (replayjobs.go).
		{"POST", "/api/v1/replays", dWrite, "replay.create", a.createReplay},
		{"GET", "/api/v1/replays", dRead, "", a.listReplays},
		{"GET", "/api/v1/replays/{id}", dRead, "", a.getReplay},
		{"POST", "/api/v1/replays/{id}/cancel", dWrite, "replay.cancel", a.cancelReplay},
		{"POST", "/api/v1/events", access.EventsWrite, "", a.tracedCreateEvent},
		{"POST", "/api/v1/events/batch", access.EventsWrite, "", a.tracedCreateEvents},
		{"GET", "/api/v1/events", dRead, "", a.listEvents},
		{"GET", "/api/v1/events/{id}", dRead, "", a.getEvent},
		{"GET", "/api/v1/events/{id}/deliveries", dRead, "", a.listEventDeliveries},
		{"DELETE", "/api/v1/events/{id}/payload", dWrite, "event.erase", a.eraseEvent},
		{"GET", "/api/v1/deliveries", dRead, "", a.listDeliveries},
		{"GET", "/api/v1/deliveries/{id}", dRead, "", a.getDelivery},
		{"POST", "/api/v1/deliveries/{id}/retry", dWrite, "delivery.retry", a.retryDelivery},
		{"POST", "/api/v1/keys", access.KeysWrite, "key.create", a.createKey},
		{"GET", "/api/v1/keys", access.KeysWrite, "", a.listKeys},
		{"DELETE", "/api/v1/keys/{id}", access.KeysWrite, "key.revoke", a.revokeKey},
		{"POST", "/api/v1/portal-links", access.KeysWrite, "portal_link.create", a.createPortalLink},
		{"POST", "/api/v1/tenant-tokens", access.KeysWrite, "tenant_token.create", a.createTenantToken},
		{"GET", "/api/v1/audit", access.Admin, "", a.listAudit},
		// Inbound sources (sources.go).
		{"POST", "/api/v1/sources", srcWrite, "source.create", a.createSource},
		{"GET", "/api/v1/sources", srcRead, "", a.listSources},
		{"GET", "/api/v1/sources/{id}", srcRead, "", a.getSource},
		{"PATCH", "/api/v1/sources/{id}", srcWrite, "source.update", a.updateSource},
		{"DELETE", "/api/v1/sources/{id}", srcWrite, "source.delete", a.deleteSource},
		{"POST", "/api/v1/sources/{id}/destinations", srcWrite, "source.add_destination", a.createDestination},
		{"GET", "/api/v1/sources/{id}/rejections", srcRead, "", a.listRejections},
		// The event catalog (eventtypes.go): one for the installation, read
		// by every tenant, written without one.
		{"POST", "/api/v1/event-types", access.EventTypesWrite, "event_type.create", a.createEventType},
		{"GET", "/api/v1/event-types", epRead, "", a.listEventTypes},
		{"GET", "/api/v1/event-types/{name}", epRead, "", a.getEventType},
		{"PATCH", "/api/v1/event-types/{name}", access.EventTypesWrite, "event_type.update", a.updateEventType},
		{"DELETE", "/api/v1/event-types/{name}", access.EventTypesWrite, "event_type.delete", a.deleteEventType},
		{"POST", "/api/v1/event-types/{name}/send-example", access.EventTypesWrite, "event_type.send_example", a.sendExample},
		{"GET", openAPIPath, noKey, "", a.serveOpenAPI}, // see openapi.go
	}
	a.mux = http.NewServeMux()
	for _, rt := range a.routes {
		a.mux.Handle(rt.method+" "+rt.path, a.wrapRoute(rt))
	}
	// Anything else under /api/v1/ gets a JSON 404 or 405.
	a.mux.Handle("/api/v1/", a.wrap(a.noRoute))
	return a, nil
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// ServeHTTP authenticates the request and dispatches it to its route.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.URL.Path == openAPIPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		a.mux.ServeHTTP(w, r) // public: the API's shape, no data; its route needs noKey
		return
	}
	addr := authlimit.Addr(r)
	if ok, wait := a.limiter.Allow(addr); !ok {
		secs := int(wait / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
		a.writeError(w, r, &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, Message: fmt.Sprintf("too many failed authentications from this address; try again in %d s", secs)})
		return
	}
	p, err := a.authenticate(r)
	if err != nil {
		if errors.Is(err, errUnauthorized) {
			a.limiter.Fail(addr)
			a.log.WarnContext(ctx, "api: authentication failed", "remote_addr", addr, "method", r.Method, "path", r.URL.Path)
		}
		a.writeError(w, r, err)
		return
	}
	a.touch(r, p, a.now())
	a.mux.ServeHTTP(w, r.WithContext(context.WithValue(ctx, principalKey{}, p)))
}

// wrapRoute is wrap for a route: it refuses a caller without the route's
// scope (403, naming it) and records the audit log entry of a call that
// succeeded.
func (a *API) wrapRoute(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.scope == noKey {
			// ServeHTTP routes it here without authenticating; nothing
			// to allow or audit.
			if err := rt.handle(w, r); err != nil {
				a.writeError(w, r, err)
			}
			return
		}
		p := principalOf(r)
		if err := p.Allow(rt.scope); err != nil {
			a.writeError(w, r, accessError(err))
			return
		}
		var note *auditNote
		if rt.audit != "" {
			note = &auditNote{tenant: p.Tenant, target: r.PathValue("id")}
			r = r.WithContext(context.WithValue(r.Context(), auditKey{}, note))
		}
		sw := &statusWriter{ResponseWriter: w}
		if err := rt.handle(sw, r); err != nil {
			a.writeError(sw, r, err)
		}
		if note != nil && sw.status < 400 {
			a.audit(r, p, rt.audit, note)
		}
	})
}

// wrap turns a handlerFunc into an http.Handler that writes its error.
func (a *API) wrap(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			a.writeError(w, r, err)
		}
	})
}

// noRoute answers requests that match no route: 405 with an Allow header if
// the path exists for other methods, 404 otherwise.
func (a *API) noRoute(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{"GET", "POST", "PATCH", "DELETE"} {
		probe := &http.Request{Method: m, URL: r.URL, Host: r.Host, Header: http.Header{}}
		if _, pattern := a.mux.Handler(probe); pattern != "/api/v1/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethodNotAllowed, Message: r.Method + " is not allowed here; use " + strings.Join(allow, ", ")}

	}
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such route: " + r.Method + " " + r.URL.Path}
}

// notify tells the Notifier that deliveries may be due.
func (a *API) notify() {
	if a.notifier != nil {
		a.notifier.Notify()
	}
}

// Error codes of the API's error responses.
const (
	CodeInvalidRequest   = "invalid_request"    // 400: the request cannot be read
	CodeUnauthorized     = "unauthorized"       // 401: no valid API key
	CodeForbidden        = "forbidden"          // 403: outside the key's scopes or tenant
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409
	CodeTooLarge         = "too_large"          // 413: body or payload over its limit
	CodeValidation       = "validation_failed"  // 422: readable, but refused
	CodeSchemaViolation  = "schema_violation"   // 422: an event's payload breaks its type's schema
	CodeTooManyRequests  = "too_many_requests"  // 429: too many failed authentications
	CodeInternal         = "internal"           // 500
	CodeUnavailable      = "unavailable"        // 503: the store cannot write for now; see Retry-After
)

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 for a store
// that cannot write.
const unavailableRetryAfter = 30

// An Error is an error response: its status, its code and a message for
// people.
type Error struct {
	Status  int
	Code    string
	Message string
	// Scope is the scope missing, on a 403 for one.
	Scope access.Scope
}

// detailedError is an error response whose error object has more
// members than code and message, such as the "pointer" and "keyword" of a
// schema violation.
type detailedError struct {
	err     *Error
	details map[string]string
}

func (e *detailedError) Error() string { return e.err.Error() }
func (e *detailedError) Unwrap() error { return e.err }

func (e *Error) Error() string { return e.Message }

func badRequest(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeValidation, Message: fmt.Sprintf(format, args...)}
}

func notFound(what, id string) error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: what + " " + strconv.Quote(id) + " not found"}
}

// storeError maps the store's ErrNotFound and ErrConflict to responses,
// passing other errors through as internal ones.
func storeError(err error, what, id string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound(what, id)
	case errors.Is(err, store.ErrConflict):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: what + " " + strconv.Quote(id) + ": conflict"}
	}
	return err
}

// writeError writes err as a JSON error response. Errors other than *Error
// are logged and answered with a generic 500; a request whose time ran out
// gets 503, and so does one the store could not write (store.ErrUnavailable:
// a full disk, a read-only database), with Retry-After, for the client to
// try again once the operator has made room.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		status, code, msg := http.StatusInternalServerError, CodeInternal, "internal error"
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			status, msg = http.StatusServiceUnavailable, "the request timed out"
		case errors.Is(err, store.ErrUnavailable):
			status, code, msg = http.StatusServiceUnavailable, CodeUnavailable, "the service cannot store data for now; try again later"
			w.Header().Set("Retry-After", strconv.Itoa(unavailableRetryAfter))
		}
		a.log.ErrorContext(r.Context(), "api request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		e = &Error{Status: status, Code: code, Message: msg}
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hookrelay"`)
	}
	writeJSON(w, e.Status, map[string]any{"error": errorBody(e, err)})
}

// errorBody is the "error" object of the response for e, the *Error of
// err: its code, message, and scope or details if any.
func errorBody(e *Error, err error) map[string]any {
	body := map[string]any{"code": e.Code, "message": e.Message}
	if e.Scope != "" {
		body["scope"] = string(e.Scope)
	}
	if fe, ok := errors.AsType[*fieldsError](err); ok {
		fields := make([]map[string]string, len(fe.fields))
		for i, f := range fe.fields {
			fields[i] = map[string]string{"field": f.Field, "reason": f.Reason}
		}
		body["field"], body["fields"] = fe.fields[0].Field, fields
	}
	if d, ok := errors.AsType[*detailedError](err); ok {
		for k, v := range d.details {
			body[k] = v
		}
	}
	return body
}

// fieldsError is a 422 about named request fields (rules' field errors):
// the answer lists them in error.fields, and names the first in
// error.field.
type fieldsError struct {
	err    *Error
	fields []*rules.FieldError
}

func (e *fieldsError) Error() string { return e.err.Error() }
func (e *fieldsError) Unwrap() error { return e.err }
