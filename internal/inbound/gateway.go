package inbound

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Defaults of the Config fields.
const (
	DefaultMaxBodyBytes       = 1 << 20
	DefaultSourceCacheTTL     = 2 * time.Second
	DefaultRejectionRetention = 24 * time.Hour
	DefaultRejectionRate      = 5.0
	DefaultCommitTimeout      = 10 * time.Second
	DefaultPruneInterval      = 10 * time.Minute
)

// Limits.
const (
	// maxKeyLen bounds a message ID used as it is as an idempotency key;
	// a longer one is hashed.
	maxKeyLen = 200
	// maxCachedSources bounds the source cache (unknown names included).
	maxCachedSources = 10000
)

// Config configures a Gateway. Store is required; the zero values of the
// other fields mean the defaults documented on each.
type Config struct {
	// Store holds the sources and takes the events. Required.
	Store store.Store
	// Notifier is told when an accepted request created deliveries (the
	// delivery engine). nil: nobody.
	Notifier interface{ Notify() }
	// Logger receives the gateway's logs. nil discards them. Secrets and
	// bodies are never logged.
	Logger *slog.Logger
	// MaxBodyBytes bounds a request body; a larger one gets 413.
	// 0: DefaultMaxBodyBytes (1 MiB).
	MaxBodyBytes int64
	// Now is the clock, for signed timestamps and event times. nil:
	// time.Now.
	Now func() time.Time
	// Registerer, if set, gets the gateway's metrics.
	Registerer prometheus.Registerer
	// SourceCacheTTL is how long a source (or the absence of one) is used
	// without reading it again, which bounds how late a change made
	// through the API takes effect. 0: DefaultSourceCacheTTL (2 s).
	SourceCacheTTL time.Duration
	// RejectionRetention is how long rejected requests are kept; Run
	// prunes older ones. 0: DefaultRejectionRetention (24 h).
	RejectionRetention time.Duration
	// RejectionRate is how many rejected requests per second, per source,
	// are stored (with a burst of ten times as many); the rest are only
	// counted. 0: DefaultRejectionRate (5).
	RejectionRate float64
	// CommitTimeout bounds the commit of an accepted request.
	// 0: DefaultCommitTimeout (10 s).
	CommitTimeout time.Duration
	// PruneInterval is how often Run prunes old rejections.
	// 0: DefaultPruneInterval (10 min).
	PruneInterval time.Duration
	// Leader, if set, is asked before each of Run's prunes, which then
	// runs only where it says this node leads. nil: always.
	Leader Leader
}

// Gateway is the http.Handler of /in/{source}. Create it with New; it is
// safe for concurrent use.
type Gateway struct {
	store         store.Store
	notifier      interface{ Notify() }
	log           *slog.Logger
	now           func() time.Time
	maxBody       int64
	cacheTTL      time.Duration
	retention     time.Duration
	rejectRate    float64
	commitTimeout time.Duration
	pruneEvery    time.Duration
	leader        Leader

	requests *prometheus.CounterVec

	mu      sync.Mutex
	sources map[string]*cached  // by name
	buckets map[string]*limiter // rejections stored, by source id

	recent recentKeys
}

// cached is a source ready to verify with, or the absence of one.
type cached struct {
	src     *store.Source // nil: no such source
	scheme  *signature.Scheme
	secrets []string
	err     error // the scheme cannot be built
	expires time.Time
}

// New returns a gateway for cfg. It fails if cfg has no store, a value is
// negative, or the metrics cannot be registered.
func New(cfg Config) (*Gateway, error) {
	if cfg.Store == nil {
		return nil, errors.New("inbound: config has no store")
	}
	if cfg.MaxBodyBytes < 0 || cfg.SourceCacheTTL < 0 || cfg.RejectionRetention < 0 || cfg.RejectionRate < 0 || cfg.CommitTimeout < 0 || cfg.PruneInterval < 0 {
		return nil, errors.New("inbound: negative config value")
	}
	g := &Gateway{
		store:         cfg.Store,
		notifier:      cfg.Notifier,
		log:           cfg.Logger,
		now:           cfg.Now,
		maxBody:       orDefault(cfg.MaxBodyBytes, DefaultMaxBodyBytes),
		cacheTTL:      orDefault(cfg.SourceCacheTTL, DefaultSourceCacheTTL),
		retention:     orDefault(cfg.RejectionRetention, DefaultRejectionRetention),
		rejectRate:    orDefault(cfg.RejectionRate, DefaultRejectionRate),
		commitTimeout: orDefault(cfg.CommitTimeout, DefaultCommitTimeout),
		pruneEvery:    orDefault(cfg.PruneInterval, DefaultPruneInterval),
		leader:        cfg.Leader,
		sources:       make(map[string]*cached),
		buckets:       make(map[string]*limiter),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hookrelay_inbound_requests_total",
			Help: "Requests to /in/{source}, by source and outcome (accepted, duplicate, rejected, challenge, error, unknown_source).",
		}, []string{"source", "outcome"}),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(g.requests); err != nil {
			return nil, fmt.Errorf("inbound: register metrics: %w", err)
		}
	}
	return g, nil
}

func orDefault[T int64 | float64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// Outcomes, the values of the outcome label.
const (
	outcomeAccepted  = "accepted"
	outcomeDuplicate = "duplicate"
	outcomeRejected  = "rejected"
	outcomeChallenge = "challenge"
	outcomeError     = "error"
	outcomeUnknown   = "unknown_source"
)

// ServeHTTP receives one webhook for the source named by the path value
// "source" (or the last path segment): see the package documentation.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		text(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	name := r.PathValue("source")
	if name == "" {
		name = path.Base(r.URL.Path)
	}
	ctx := r.Context()
	c, err := g.source(ctx, name)
	if err != nil {
		g.log.ErrorContext(ctx, "inbound: look up source", "source", name, "err", err)
		g.count("", outcomeError)
		w.Header().Set("Retry-After", "1")
		text(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	if c.src == nil {
		g.count("", outcomeUnknown)
		text(w, http.StatusNotFound, "unknown source")
		return
	}
	src := c.src
	body, err := readBody(r, g.maxBody)
	if err != nil {
		g.count(src.Name, outcomeRejected)
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			g.log.DebugContext(ctx, "inbound: body too large", "source", src.Name, "limit", g.maxBody)
			text(w, http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		text(w, http.StatusBadRequest, "cannot read body")
		return
	}
	if c.err != nil {
		g.reject(ctx, w, c, r, body, http.StatusInternalServerError, "verification misconfigured", c.err.Error())
		return
	}
	now := g.now()
	err = c.scheme.Verify(r.Header, body, c.secrets, &signature.VerifyOptions{Now: g.now, Tolerance: src.Tolerance})
	if err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, signature.ErrSecret) {
			status = http.StatusInternalServerError
		}
		g.reject(ctx, w, c, r, body, status, signature.Reason(err), err.Error())
		return
	}
	if g.challenge(w, src, body) {
		g.count(src.Name, outcomeChallenge)
		return
	}

	key := idempotencyKey(c.scheme, r.Header, body)
	if id, ok := g.recent.get(src.ID, key, now); ok {
		g.count(src.Name, outcomeDuplicate)
		answer(w, http.StatusOK, id, true)
		return
	}
	ev := &store.Event{
		ID:             store.NewID("evt"),
		Tenant:         src.Tenant(),
		Type:           src.EventType(),
		Payload:        body,
		IdempotencyKey: key,
		CreatedAt:      now,
		ContentType:    r.Header.Get("Content-Type"),
		Headers:        forwardHeaders(r.Header, src.Name, c.scheme),
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.commitTimeout)
	stored, deliveries, err := g.store.CreateEvent(cctx, ev, now.Add(-src.DedupeWindow))
	cancel()
	switch {
	case errors.Is(err, store.ErrConflict) && stored != nil:
		g.recent.add(src.ID, key, stored.ID, stored.CreatedAt.Add(src.DedupeWindow))
		g.count(src.Name, outcomeDuplicate)
		answer(w, http.StatusOK, stored.ID, true)
		return
	case err != nil:
		g.log.ErrorContext(ctx, "inbound: commit request", "source", src.Name, "err", err)
		g.count(src.Name, outcomeError)
		w.Header().Set("Retry-After", "1")
		text(w, http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	g.recent.add(src.ID, key, stored.ID, now.Add(src.DedupeWindow))
	g.count(src.Name, outcomeAccepted)
	answer(w, http.StatusAccepted, stored.ID, false)
	if g.notifier != nil && store.AnyUnclaimed(deliveries) {
		g.notifier.Notify()
	}
}

func (g *Gateway) count(source, outcome string) {
	g.requests.WithLabelValues(source, outcome).Inc()
}

// source returns the cached source called name, reading it from the store
// when the cache has none or it has expired. A source that does not exist
// comes back with a nil src.
func (g *Gateway) source(ctx context.Context, name string) (*cached, error) {
	if !store.ValidSourceName(name) {
		return &cached{}, nil
	}
	now := time.Now() // the cache's TTL is real time, as a timer's would be
	g.mu.Lock()
	c, ok := g.sources[name]
	g.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c, nil
	}
	src, err := g.store.SourceByName(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c = &cached{}
	case err != nil:
		return nil, err
	default:
		c = compile(src)
	}
	c.expires = now.Add(g.cacheTTL)
	g.mu.Lock()
	if len(g.sources) >= maxCachedSources {
		clear(g.sources)
	}
	g.sources[name] = c
	g.mu.Unlock()
	return c, nil
}

// compile readies a source for verification.
func compile(src *store.Source) *cached {
	c := &cached{src: src}
	c.scheme, c.err = sourceScheme(src.Scheme, src.CustomScheme)
	for _, s := range src.Secrets {
		c.secrets = append(c.secrets, s.Value)
	}
	return c
}

// sourceScheme returns the signature scheme a source has stored.
func sourceScheme(name string, custom []byte) (*signature.Scheme, error) {
	s, err := schemes.Resolve(name, custom)
	if err == nil && s == nil {
		err = fmt.Errorf("scheme %q cannot verify", name)
	}
	if err != nil {
		return nil, fmt.Errorf("source scheme: %w", err)
	}
	return s, nil
}

// readBody reads r's body, refusing more than limit bytes with an error
// wrapping *http.MaxBytesError.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: limit})
	}
	n := r.ContentLength
	if n < 0 {
		n = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1)); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: limit})
	}
	return buf.Bytes(), nil
}

// idempotencyKey is the key a request is deduplicated by: the scheme's
// message ID, hashed if it is long, or the SHA-256 of the body.
func idempotencyKey(s *signature.Scheme, h http.Header, body []byte) string {
	id := s.MessageID(h, body)
	if id != "" && len(id) <= maxKeyLen && printable(id) {
		return id
	}
	var sum [sha256.Size]byte
	prefix := "sha256:"
	if id != "" {
		sum, prefix = sha256.Sum256([]byte(id)), "id-sha256:"
	} else {
		sum = sha256.Sum256(body)
	}
	return prefix + hex.EncodeToString(sum[:])
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// challenge answers a verified handshake request the source is configured
// for, and reports whether it did.
func (g *Gateway) challenge(w http.ResponseWriter, src *store.Source, body []byte) bool {
	if src.SlackChallenge && bytes.Contains(body, []byte("url_verification")) {
		var req struct {
			Type      string `json:"type"`
			Challenge string `json:"challenge"`
		}
		if json.Unmarshal(body, &req) == nil && req.Type == "url_verification" && req.Challenge != "" {
			writeJSON(w, http.StatusOK, map[string]string{"challenge": req.Challenge})
			return true
		}
	}
	if src.ZoomSecret.Value != "" && bytes.Contains(body, []byte("endpoint.url_validation")) {
		var req struct {
			Event   string `json:"event"`
			Payload struct {
				PlainToken string `json:"plainToken"`
			} `json:"payload"`
		}
		if json.Unmarshal(body, &req) == nil && req.Event == "endpoint.url_validation" && req.Payload.PlainToken != "" {
			writeJSON(w, http.StatusOK, map[string]string{
				"plainToken":     req.Payload.PlainToken,
				"encryptedToken": ZoomToken(src.ZoomSecret.Value, req.Payload.PlainToken),
			})
			return true
		}
	}
	return false
}

// reject answers a request that failed verification with status and
// reason, counts it, and stores it if the source's rejection budget allows.
func (g *Gateway) reject(ctx context.Context, w http.ResponseWriter, c *cached, r *http.Request, body []byte, status int, reason, detail string) {
	src := c.src
	g.count(src.Name, outcomeRejected)
	g.log.DebugContext(ctx, "inbound: request rejected", "source", src.Name, "reason", reason, "detail", detail, "remote_addr", r.RemoteAddr)
	if status == http.StatusInternalServerError {
		g.log.ErrorContext(ctx, "inbound: source cannot verify requests", "source", src.Name, "detail", detail)
	}
	if g.allowRejection(src.ID) {
		now := g.now()
		headers, kept := inspect(r.Header, c.scheme, body)
		rej := &store.Rejection{
			ID:         store.NewID("rej"),
			SourceID:   src.ID,
			ReceivedAt: now,
			Reason:     reason,
			Detail:     detail,
			RemoteAddr: r.RemoteAddr,
			Headers:    headers,
			Body:       kept,
			BodySize:   int64(len(body)),
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.commitTimeout)
		if err := g.store.AddRejection(cctx, rej); err != nil {
			g.log.WarnContext(ctx, "inbound: store rejected request", "source", src.Name, "err", err)
		}
		cancel()
	}
	text(w, status, reason)
}
