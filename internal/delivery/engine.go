package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookrelay/hookrelay/internal/oauthtoken"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Config configures an Engine. Zero values mean the documented defaults.
type Config struct {
	// Store is the queue and everything else; required.
	Store store.Store
	// Logger receives the engine's logs; nil discards them.
	Logger *slog.Logger
	// NodeID names this node in logs.
	NodeID string
	// AllowPrivateNetworks lets deliveries reach loopback, private,
	// link-local and the other ranges of ErrForbiddenAddress.
	AllowPrivateNetworks bool
	// RetrySchedule is the delay after attempts 1, 2, …; nil means
	// DefaultRetrySchedule (8 attempts). Each delay gets ±20% jitter.
	RetrySchedule []time.Duration
	// RequestTimeout bounds one attempt, connection to response body; 0
	// means 15s. An endpoint's Timeout replaces it for that endpoint, up
	// to MaxEndpointTimeout.
	RequestTimeout time.Duration
	// MaxEndpointTimeout caps the request timeout an endpoint sets; 0
	// means RequestTimeout. Leases are sized for the longer of the two.
	MaxEndpointTimeout time.Duration
	// EgressProxy, if set, is an HTTP CONNECT proxy every delivery (and
	// OAuth2 token request) goes through; the SSRF guard checks the
	// targets before the CONNECT (see ClientConfig.Proxy).
	EgressProxy *url.URL
	// MaxResponseBytes is how much of a response body is kept on the
	// attempt; 0 means 4 KiB. At most MaxResponseRead is read, then the
	// connection is closed.
	MaxResponseBytes int64
	// EndpointConcurrency bounds the requests in flight to one endpoint
	// from this node, or, on a shared store (Store.Shared: PostgreSQL),
	// from all nodes together; 0 means 32. On a shared store claims have
	// the store hold EndpointConcurrency and the endpoints' rate limits
	// across all nodes (store.ClaimParams MaxInFlight and RateLimits),
	// claimed deliveries not yet sent or not yet recorded counting as in
	// flight. The price is that a node no longer claims an endpoint's
	// deliveries ahead of its free slots, which lowers what one busy
	// endpoint gets. Alone on its store (SQLite), a node's own limits are
	// exact, and it claims ahead.
	EndpointConcurrency int
	// Workers bounds the requests in flight on this node; 0 means 512.
	// Claimed deliveries waiting in memory for their endpoint are bounded
	// by 8×Workers.
	Workers int
	// Lease is how long a claimed delivery stays claimed before another
	// worker may take it over; 0 means the longer of RequestTimeout and
	// MaxEndpointTimeout, plus 30s. It must be longer than both.
	Lease time.Duration
	// BatchSize is how many deliveries one claim takes at most; 0 means 256.
	BatchSize int
	// PollInterval is how often the queue is polled when idle; 0 means
	// 500ms. Notify wakes the engine at once.
	PollInterval time.Duration
	// DisableAfter disables an endpoint whose attempts have failed without
	// a success for this long; 0 means 120h, < 0 never. It is checked every
	// minute, or every DisableAfter/4 if that is shorter, on the leader.
	DisableAfter time.Duration
	// Retention is how long finished deliveries, their attempts and their
	// events are kept; older ones are pruned (store.Store.Prune) in
	// batches of PruneBatch every 5 minutes, or every Retention/4 if that
	// is shorter, on the leader. 0 means 30 days, < 0 never.
	Retention time.Duration
	// TenantPayloadRetention is, per tenant, how long event payloads are
	// kept: with retention, the leader erases (store.Erasure.ErasePayloads,
	// as DELETE /api/v1/events/{id}/payload does) the payloads of that
	// tenant's events older than it, in batches of PruneBatch events,
	// keeping their metadata until Retention prunes them. It is meant to be
	// shorter than Retention. nil for none; each must be positive.
	TenantPayloadRetention map[string]time.Duration
	// PruneBatch is how many rows one pruning transaction deletes at most,
	// which bounds how long it holds its locks; 0 means 1000.
	PruneBatch int
	// Leader, when several nodes share the store, says whether this node
	// runs the periodic jobs (auto-disable, retention); it is asked before
	// each run. nil means this node always runs them.
	Leader Leader
	// ShutdownGrace is how long Run waits, once its context is done, for
	// requests in flight to finish before aborting them; 0 means
	// RequestTimeout.
	ShutdownGrace time.Duration
	// Registerer, if set, gets the engine's metrics.
	Registerer prometheus.Registerer
	// Tracer, if set, gets a span for each attempt, and gives the
	// traceparent header sent to endpoints with TraceContext set.
	Tracer Tracer
	// Now is the clock; nil means time.Now. The engine reads it for
	// everything that is compared with a lease, a due time or a rate:
	// claims, held deliveries' deadlines, rate-limit buckets, attempt
	// times and retry schedules. Only waiting (timers) and measuring a
	// request's duration use real time, since those are spent in real time.
	Now func() time.Time
}

// Defaults.
const (
	defaultRequestTimeout      = 15 * time.Second
	defaultMaxResponseBytes    = 4 << 10
	defaultEndpointConcurrency = 32
	defaultWorkers             = 512
	defaultBatchSize           = 256
	defaultPollInterval        = 500 * time.Millisecond
	defaultDisableAfter        = 120 * time.Hour
	defaultRetention           = 30 * 24 * time.Hour
	defaultPruneBatch          = 1000
	defaultLeaseMargin         = 30 * time.Second

	completeBatch    = 100                  // results a CompleteAttempts waits for
	maxCompleteBatch = 512                  // results per CompleteAttempts at most
	completeDelay    = 2 * time.Millisecond // longest a result waits for its batch to fill
)

// Engine claims due deliveries and attempts them. Create it with New and
// start it with Run.
type Engine struct {
	cfg     Config
	store   store.Store
	shared  bool // store.Shared(): other nodes claim from the store too
	log     *slog.Logger
	now     func() time.Time
	clients *clients
	tokens  *oauthtoken.Cache
	// maxTimeout is the longest an attempt may take: RequestTimeout or
	// MaxEndpointTimeout, whichever is longer.
	maxTimeout time.Duration
	policy     Policy
	schemes    schemeCache
	metrics    *metrics

	recorded atomic.Int64 // attempts recorded, for tests
	expired  atomic.Int64 // held deliveries dropped at their deadline, for tests
	// onLook, if set (by tests, before Run), is called after each pass of
	// the claim loop with the time it claimed at and how many deliveries
	// it got: the event a test waits for to know the engine looked and
	// decided.
	onLook func(now time.Time, claimed int)

	wake    chan struct{} // Notify and freed capacity; buffered, 1
	results chan completion
	running atomic.Bool

	// workCtx is what requests run under; Run cancels it when the
	// shutdown grace is over.
	workCtx context.Context
	wg      sync.WaitGroup // requests in flight

	mu       sync.Mutex
	stopping bool                // no new requests start
	inflight int                 // requests in flight
	held     int                 // claimed deliveries waiting for their endpoint
	eps      map[string]*epState // endpoints with something in flight, held or rate state
	waiting  map[string]*epState // endpoints with held deliveries
}

// epState is what the engine tracks for one endpoint on this node.
type epState struct {
	id        string
	inflight  int
	held      []heldJob
	bucket    bucket
	latency   time.Duration // moving average of attempt durations; 0 if unknown
	busySince time.Time     // last completion, or when requests started after idling
}

// heldJob is a claimed delivery waiting for its endpoint's concurrency or
// rate limit. Past deadline it is dropped unattempted: its lease would run
// out before the attempt could finish, and it will be claimed again.
type heldJob struct {
	job      *store.Job
	deadline time.Time
}

// completion is one finished attempt on its way to the store.
type completion struct {
	result   store.AttemptResult
	endpoint *store.Endpoint
	scheme   string
	aborted  bool
}

// New returns an engine for cfg, with defaults filled in. It fails if the
// store is missing, a value is out of range, the operator scheme is unknown
// or the metrics cannot be registered.
func New(cfg Config) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("delivery: config has no store")
	}
	if cfg.RequestTimeout < 0 || cfg.MaxResponseBytes < 0 || cfg.EndpointConcurrency < 0 || cfg.Workers < 0 ||
		cfg.Lease < 0 || cfg.BatchSize < 0 || cfg.PollInterval < 0 || cfg.ShutdownGrace < 0 || cfg.PruneBatch < 0 {
		return nil, errors.New("delivery: negative config value")
	}
	for tenant, d := range cfg.TenantPayloadRetention {
		if d <= 0 {
			return nil, fmt.Errorf("delivery: payload retention of tenant %q is not positive", tenant)
		}
	}
	for i, d := range cfg.RetrySchedule {
		if d < 0 {
			return nil, fmt.Errorf("delivery: retry schedule entry %d is negative", i)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if cfg.MaxResponseBytes == 0 {
		cfg.MaxResponseBytes = defaultMaxResponseBytes
	}
	cfg.MaxResponseBytes = min(cfg.MaxResponseBytes, MaxResponseRead)
	if cfg.EndpointConcurrency == 0 {
		cfg.EndpointConcurrency = defaultEndpointConcurrency
	}
	if cfg.Workers == 0 {
		cfg.Workers = defaultWorkers
	}
	if cfg.MaxEndpointTimeout < 0 {
		return nil, errors.New("delivery: negative MaxEndpointTimeout")
	}
	maxTimeout := max(cfg.RequestTimeout, cfg.MaxEndpointTimeout)
	if cfg.Lease == 0 {
		cfg.Lease = maxTimeout + defaultLeaseMargin
	}
	if cfg.Lease <= maxTimeout {
		return nil, fmt.Errorf("delivery: lease %s is not longer than the request timeout %s", cfg.Lease, maxTimeout)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = defaultBatchSize
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = defaultPollInterval
	}
	if cfg.DisableAfter == 0 {
		cfg.DisableAfter = defaultDisableAfter
	}
	if cfg.Retention == 0 {
		cfg.Retention = defaultRetention
	}
	if cfg.PruneBatch == 0 {
		cfg.PruneBatch = defaultPruneBatch
	}
	if cfg.ShutdownGrace == 0 {
		cfg.ShutdownGrace = cfg.RequestTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RetrySchedule == nil {
		cfg.RetrySchedule = DefaultRetrySchedule()
	}
	e := &Engine{
		cfg:     cfg,
		store:   cfg.Store,
		shared:  cfg.Store.Shared(),
		log:     cfg.Logger,
		now:     cfg.Now,
		clients: newClients(ClientConfig{AllowPrivateNetworks: cfg.AllowPrivateNetworks, Timeout: maxTimeout, Proxy: cfg.EgressProxy}),
		// Token expiry is real time (the token server's), whatever the
		// engine's clock says: the cache keeps time.Now.
		tokens: &oauthtoken.Cache{
			HTTPClient: NewClient(ClientConfig{AllowPrivateNetworks: cfg.AllowPrivateNetworks, Timeout: 10 * time.Second, Proxy: cfg.EgressProxy}),
		},
		maxTimeout: maxTimeout,
		policy:     Policy{Schedule: cfg.RetrySchedule, Jitter: DefaultJitter},
		wake:       make(chan struct{}, 1),
		eps:        make(map[string]*epState),
		waiting:    make(map[string]*epState),
		workCtx:    context.Background(),
		// Nothing starts before Run: it sets up where results go.
		stopping: true,
	}
	if cfg.NodeID != "" {
		e.log = e.log.With("node", cfg.NodeID)
	}
	m, err := newMetrics(cfg.Registerer, e.queueStats)
	if err != nil {
		return nil, err
	}
	e.metrics = m
	return e, nil
}

// Notify tells the engine that work is due now: an event was accepted, a
// retry or replay was requested. It never blocks.
func (e *Engine) Notify() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run claims and attempts due deliveries until ctx is done. It starts by
// taking back the leases an earlier run of this node left
// (store.Store.ReleaseLeases), so that what was in flight when a process
// died is sent at once. When ctx is done it stops
// claiming, waits up to Config.ShutdownGrace for the requests in flight
// (aborting the rest, which are recorded as aborted and due again at once),
// records every result, and returns nil. Claimed deliveries that had not
// started are left to their lease. Run may be called once at a time; it
// returns an error only if the engine is already running.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return errors.New("delivery: engine is already running")
	}
	defer e.running.Store(false)

	// What an earlier run of this node had in flight when it died is due
	// at once, not when its leases run out (store.Store.ReleaseLeases),
	// before this run claims or is handed anything.
	if n, err := e.store.ReleaseLeases(ctx, e.now()); err != nil {
		e.log.ErrorContext(ctx, "release the leases of an earlier run; they will run out instead", "err", err)
	} else if n > 0 {
		e.log.InfoContext(ctx, "released the leases of an earlier run", "count", n)
	}

	workCtx, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	e.workCtx = workCtx
	e.results = make(chan completion, 2*maxCompleteBatch)
	e.mu.Lock()
	e.stopping = false
	e.mu.Unlock()

	var bg sync.WaitGroup
	completerDone := make(chan struct{})
	go func() {
		defer close(completerDone)
		e.completer(workCtx)
	}()
	if e.cfg.DisableAfter > 0 {
		every := min(time.Minute, max(e.cfg.DisableAfter/4, 10*time.Millisecond))
		bg.Go(func() { e.periodic(ctx, every, e.disableFailing) })
	}
	if e.cfg.Retention > 0 || len(e.cfg.TenantPayloadRetention) > 0 {
		every := pruneEvery
		if e.cfg.Retention > 0 {
			every = min(every, max(e.cfg.Retention/4, 10*time.Millisecond))
		}
		for _, d := range e.cfg.TenantPayloadRetention {
			every = min(every, max(d/4, 10*time.Millisecond))
		}
		bg.Go(func() { e.periodic(ctx, every, e.prune) })
	}
	// Fresh deliveries come straight from the store when it can claim
	// them at creation (SetDispatcher reports true); the claim loop finds
	// the rest. Not on a shared store: only its claims hold the limits
	// across nodes.
	direct := !e.shared && e.store.SetDispatcher(e, e.cfg.Lease)
	e.log.InfoContext(ctx, "delivery engine started",
		"workers", e.cfg.Workers, "endpoint_concurrency", e.cfg.EndpointConcurrency, "batch", e.cfg.BatchSize)

	e.claimLoop(ctx)
	if direct {
		e.store.SetDispatcher(nil, 0)
	}

	// Shutdown: start nothing more; let requests in flight finish within
	// the grace period, then abort them; record everything; stop the
	// helpers.
	e.stopHeld()
	inflightDone := make(chan struct{})
	go func() { e.wg.Wait(); close(inflightDone) }()
	grace := time.NewTimer(e.cfg.ShutdownGrace)
	select {
	case <-inflightDone:
	case <-grace.C:
		e.log.Warn("delivery engine aborting requests still in flight after grace period", "grace", e.cfg.ShutdownGrace)
		abort()
		<-inflightDone
	}
	grace.Stop()
	close(e.results)
	<-completerDone
	bg.Wait()
	e.log.Info("delivery engine stopped")
	return nil
}

// claimLoop claims batches of due deliveries until ctx is done.
func (e *Engine) claimLoop(ctx context.Context) {
	// Go 1.23+ timers: Stop and Reset never leave a stale tick behind.
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var failures int
	for ctx.Err() == nil {
		now := e.now()
		limit, exclude, wakeAt := e.claimPlan(now)
		if limit > 0 {
			// The store leases from now, so held deliveries' deadlines
			// count from now too, on the same clock.
			p := store.ClaimParams{Now: now, Lease: e.cfg.Lease, Limit: limit, ExcludeEndpoints: exclude}
			if e.shared {
				p.MaxInFlight, p.RateLimits = e.cfg.EndpointConcurrency, true
			}
			jobs, err := e.store.ClaimDueDeliveries(ctx, p)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				failures++
				backoff := storeBackoff(failures)
				e.log.ErrorContext(ctx, "claim due deliveries", "err", err, "retry_in", backoff)
				if !sleep(ctx, timer, backoff) {
					return
				}
				continue
			}
			failures = 0
			e.admit(jobs, now)
			e.looked(now, len(jobs))
			if len(jobs) == limit {
				continue // there may be more due right now
			}
		} else {
			e.looked(now, 0)
		}
		// Timers run on real time: the wait until a rate limit lets the
		// next delivery through is measured on the engine's clock and
		// waited for in real time (with a fake clock that has not moved,
		// the loop looks again after the same wait and finds nothing new).
		d := e.cfg.PollInterval
		if !wakeAt.IsZero() {
			d = min(d, max(wakeAt.Sub(now), time.Millisecond))
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// Admits reports whether a delivery to the endpoint would start, or be
// held to start soon, if the store handed it over at creation: the same
// test a claim applies. It implements store.Dispatcher.
func (e *Engine) Admits(endpointID string) bool {
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping || e.inflight >= e.cfg.Workers || e.held >= e.maxHeld() {
		return false
	}
	ep := e.eps[endpointID]
	return ep == nil || !e.saturatedLocked(ep, now) && ep.bucket.rate == 0
}

// Dispatch takes deliveries the store claimed as it created them. It
// implements store.Dispatcher. Outside Run (before it starts or after it
// returns) it takes nothing: the deliveries are left to their leases.
func (e *Engine) Dispatch(jobs []*store.Job, claimedAt time.Time) {
	e.admit(jobs, claimedAt)
}

// looked reports a claim pass to the test hook, if there is one.
func (e *Engine) looked(now time.Time, claimed int) {
	if e.onLook != nil {
		e.onLook(now, claimed)
	}
}

// sleep waits d or until ctx is done, reporting false in that case.
func sleep(ctx context.Context, timer *time.Timer, d time.Duration) bool {
	timer.Reset(d)
	select {
	case <-ctx.Done():
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}

// claimPlan starts what held deliveries can start, then says how many
// deliveries to claim, which endpoints to leave out (holding a full round
// of deliveries already, or out of rate-limit tokens), and when a rate
// limit next lets a delivery through (zero if none is waiting for one).
func (e *Engine) claimPlan(now time.Time) (limit int, exclude []string, wakeAt time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ep := range e.waiting {
		e.pumpLocked(ep, now)
	}
	limit = min(e.cfg.BatchSize, e.cfg.Workers-e.inflight, e.maxHeld()-e.held)
	for id, ep := range e.eps {
		limited := ep.bucket.rate > 0 && !ep.bucket.ready(now)
		switch {
		case e.saturatedLocked(ep, now) || limited:
			exclude = append(exclude, id)
			if limited && ep.inflight < e.cfg.EndpointConcurrency {
				wakeAt = earliest(wakeAt, ep.bucket.when(now))
			}
		case ep.inflight == 0 && len(ep.held) == 0 && ep.bucket.full(now):
			delete(e.eps, id) // nothing left to remember
		}
	}
	return max(limit, 0), exclude, wakeAt
}

// saturatedLocked reports whether ep holds enough claimed deliveries to
// keep its concurrency busy while another claim is made: at least half
// what it may hold, and at least EndpointConcurrency. It is left out of
// claims until it does not.
func (e *Engine) saturatedLocked(ep *epState, now time.Time) bool {
	return len(ep.held) >= max(e.cfg.EndpointConcurrency, e.holdCap(ep, now)/2)
}

// maxHeld bounds the claimed deliveries held in memory on this node.
func (e *Engine) maxHeld() int { return 8 * e.cfg.Workers }

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// admit starts or holds each claimed job.
func (e *Engine) admit(jobs []*store.Job, claimedAt time.Time) {
	if len(jobs) == 0 {
		return
	}
	// A held job must start early enough to finish within its lease.
	slack := e.cfg.Lease - e.maxTimeout
	if slack > 2*time.Second {
		slack -= time.Second
	} else {
		slack /= 2
	}
	deadline := claimedAt.Add(slack)
	now := e.now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		// Not running: no worker could hand its result on, and a held job
		// would never start. The store gets them back when their leases
		// run out.
		e.log.Debug("claimed deliveries left to their leases: engine not running", "count", len(jobs))
		return
	}
	for _, job := range jobs {
		ep := e.eps[job.Endpoint.ID]
		if ep == nil {
			ep = &epState{id: job.Endpoint.ID}
			e.eps[ep.id] = ep
		}
		ep.bucket.setRate(job.Endpoint.RateLimit, now)
		if len(ep.held) == 0 && e.canStartLocked(ep, now) {
			e.startLocked(ep, job)
			continue
		}
		if len(ep.held) >= e.holdCap(ep, now)+e.cfg.BatchSize {
			// Leave it to its lease; it will be claimed again.
			e.log.Debug("claimed delivery left to its lease", "endpoint_id", ep.id, "delivery_id", job.Delivery.ID)
			continue
		}
		ep.held = append(ep.held, heldJob{job: job, deadline: deadline})
		e.held++
		e.waiting[ep.id] = ep
	}
}

// holdCap is how many claimed deliveries an endpoint may hold: as many as
// it can plausibly start before their leases run short, judging by its
// recent latency (or how long it has gone without finishing a request) and
// its rate limit, within [EndpointConcurrency, BatchSize].
func (e *Engine) holdCap(ep *epState, now time.Time) int {
	c := e.cfg.BatchSize
	slack := e.cfg.Lease - e.maxTimeout
	lat := ep.latency
	if ep.inflight > 0 && !ep.busySince.IsZero() {
		lat = max(lat, now.Sub(ep.busySince))
	}
	if lat > 0 {
		c = min(c, int(float64(e.cfg.EndpointConcurrency)*float64(slack)/float64(lat)))
	}
	if ep.bucket.rate > 0 {
		c = min(c, int(ep.bucket.rate*slack.Seconds())+1)
	}
	return max(c, e.cfg.EndpointConcurrency)
}

func (e *Engine) canStartLocked(ep *epState, now time.Time) bool {
	return !e.stopping && ep.inflight < e.cfg.EndpointConcurrency && e.inflight < e.cfg.Workers && ep.bucket.take(now)
}

// pumpLocked drops ep's held jobs that are past their deadline and starts
// those that can start.
func (e *Engine) pumpLocked(ep *epState, now time.Time) {
	n := 0
	for n < len(ep.held) {
		h := ep.held[n]
		if now.After(h.deadline) {
			e.log.Debug("held delivery left to its lease", "endpoint_id", ep.id, "delivery_id", h.job.Delivery.ID)
			e.expired.Add(1)
		} else if e.canStartLocked(ep, now) {
			e.startLocked(ep, h.job)
		} else {
			break
		}
		ep.held[n] = heldJob{}
		n++
	}
	if n > 0 {
		ep.held = ep.held[n:]
		e.held -= n
	}
	// An endpoint that has gone a while without finishing a request keeps
	// only what it can plausibly start in time; the rest (the newest) go
	// back to their leases rather than tie up memory and claims.
	if len(ep.held) > 0 && ep.inflight > 0 && now.Sub(ep.busySince) > time.Second {
		if c := e.holdCap(ep, now); len(ep.held) > c {
			e.log.Debug("slow endpoint: held deliveries left to their leases", "endpoint_id", ep.id, "count", len(ep.held)-c)
			clear(ep.held[c:])
			e.held -= len(ep.held) - c
			ep.held = ep.held[:c]
		}
	}
	if len(ep.held) == 0 {
		ep.held = nil
		delete(e.waiting, ep.id)
	}
}

// stopHeld stops requests from starting and forgets every held job;
// their leases will run out.
func (e *Engine) stopHeld() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stopping = true
	for _, ep := range e.waiting {
		ep.held = nil
	}
	clear(e.waiting)
	e.held = 0
}

func (e *Engine) startLocked(ep *epState, job *store.Job) {
	if ep.inflight == 0 {
		ep.busySince = e.now()
	}
	ep.inflight++
	e.inflight++
	e.metrics.inflight.Inc()
	e.wg.Add(1)
	go e.work(ep, job)
}

// work makes one attempt and hands its result to the completer.
func (e *Engine) work(ep *epState, job *store.Job) {
	defer e.wg.Done()
	c, dur := e.attempt(job)
	e.results <- c
	e.finish(ep, dur)
}

// finish releases the attempt's slot, starts what it lets start, and wakes
// the claim loop if the endpoint or the node just got room.
func (e *Engine) finish(ep *epState, dur time.Duration) {
	e.metrics.inflight.Dec()
	now := e.now()
	e.mu.Lock()
	epBlocked := e.saturatedLocked(ep, now)
	nodeFull := e.inflight >= e.cfg.Workers
	ep.inflight--
	e.inflight--
	ep.busySince = now
	if ep.latency == 0 {
		ep.latency = max(dur, time.Microsecond)
	} else {
		ep.latency = (ep.latency*7 + max(dur, time.Microsecond)) / 8
	}
	if len(ep.held) > 0 {
		e.pumpLocked(ep, now)
	}
	epFree := !e.saturatedLocked(ep, now)
	e.mu.Unlock()
	if nodeFull || epBlocked && epFree {
		e.Notify()
	}
}

// attempt signs and sends one delivery and classifies the outcome.
func (e *Engine) attempt(job *store.Job) (completion, time.Duration) {
	ep := &job.Endpoint
	d := &job.Delivery
	now := e.now()
	c := completion{
		endpoint: ep,
		scheme:   ep.Scheme,
		result: store.AttemptResult{
			DeliveryID: d.ID,
			Claim:      d.Claim,
			Attempt: store.Attempt{
				ID:         store.NewID("att"),
				DeliveryID: d.ID,
				EndpointID: ep.ID,
				EventID:    job.Event.ID,
				Number:     d.Attempts + 1,
				StartedAt:  now,
				URL:        ep.URL,
				Trigger:    "scheduled",
			},
		},
	}
	r := &c.result
	a := &r.Attempt
	var traceparent string
	if e.cfg.Tracer != nil {
		var end func(AttemptOutcome)
		traceparent, end = e.cfg.Tracer.StartAttempt(e.workCtx, AttemptInfo{
			EndpointID: ep.ID, DeliveryID: d.ID, EventID: job.Event.ID, EventType: job.Event.Type,
			Number: a.Number, EventTraceParent: job.Event.TraceParent,
		})
		defer func() {
			end(AttemptOutcome{StatusCode: a.StatusCode, Duration: a.Duration, Status: string(r.Status), Failed: !Success(a.StatusCode)})
		}()
	}
	fail := func(msg string) (completion, time.Duration) {
		a.Error = msg
		r.Status = store.StatusFailed
		return c, 0
	}

	signed, err := e.sign(job, now) // passthrough.go: unsigned for scheme "none"
	if err != nil {
		return fail(err.Error())
	}
	h := eventHeader(signed, &job.Event) // with the event's content type and headers
	endpointHeader(h, ep)                // and the endpoint's static headers
	if ep.TraceContext && traceparent != "" {
		h.Set("Traceparent", traceparent)
	}
	client, err := e.clients.get(ep)
	if err != nil {
		return fail(err.Error())
	}
	timeout := e.cfg.RequestTimeout
	if ep.Timeout > 0 {
		timeout = min(ep.Timeout, e.maxTimeout)
	}
	ctx, cancel := context.WithTimeout(e.workCtx, timeout)
	defer cancel()

	// The request takes real time, whatever the engine's clock says.
	start := time.Now()
	res, err := e.send(ctx, client, ep, signed.Body, h)
	a.RequestHeaders = redactedHeader(h, ep)
	dur := time.Since(start)
	a.Duration = dur
	e.metrics.duration.Observe(dur.Seconds())
	var retryAfter string
	if res != nil {
		a.StatusCode = res.StatusCode
		a.ResponseBody = res.Body
		retryAfter = res.Header.Get("Retry-After")
		var he *HTTPError
		if errors.As(err, &he) && he.Hint != "" {
			a.Error = he.Error()
		}
	} else if err != nil {
		a.Error = err.Error()
		switch {
		case e.workCtx.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			a.Error = fmt.Sprintf("request timeout (%v) exceeded: %s", timeout, a.Error)
		case e.workCtx.Err() != nil:
			// Aborted by shutdown: due again at once, on any node.
			a.Error = "aborted: engine shutting down: " + a.Error
			c.aborted = true
			r.Status = store.StatusPending
			r.NextAttemptAt = e.now()
			return c, dur
		case errors.Is(err, ErrForbiddenAddress):
			r.Status = store.StatusFailed
			return c, dur
		}
	}
	policy := e.policy
	if ep.RetrySchedule != nil {
		policy.Schedule = ep.RetrySchedule
	}
	switch next, retry := policy.Next(a.Number, a.StatusCode, retryAfter, e.now()); {
	case Success(a.StatusCode):
		r.Status = store.StatusSucceeded
	case retry:
		r.Status = store.StatusPending
		r.NextAttemptAt = next
	default:
		r.Status = store.StatusFailed
	}
	return c, dur
}

// send authorizes and sends one attempt to ep. A 401 to an OAuth2 token
// makes it fetch a new token and send once more.
func (e *Engine) send(ctx context.Context, client *http.Client, ep *store.Endpoint, body []byte, h http.Header) (*Result, error) {
	tok, err := e.authorize(ctx, h, ep)
	if err != nil {
		return nil, err
	}
	res, err := sendWith(ctx, client, ep.URL, body, h, e.cfg.MaxResponseBytes)
	if res == nil || res.StatusCode != http.StatusUnauthorized || tok == "" {
		return res, err
	}
	e.tokens.Invalidate(credentials(ep.Auth), tok)
	if _, err := e.authorize(ctx, h, ep); err != nil {
		return nil, err
	}
	return sendWith(ctx, client, ep.URL, body, h, e.cfg.MaxResponseBytes)
}

// flattenHeader turns a header into the one-value-per-name form attempts
// store, joining repeated values with ", ".
func flattenHeader(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		m[k] = strings.Join(v, ", ")
	}
	return m
}

// completer records results in batches until e.results is closed and
// drained.
func (e *Engine) completer(ctx context.Context) {
	batch := make([]completion, 0, maxCompleteBatch)
	results := make([]store.AttemptResult, 0, maxCompleteBatch)
	recovered := make(map[string]time.Time) // endpoint id → FailingSince already reported
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		results = results[:0]
		for _, c := range batch {
			results = append(results, c.result)
		}
		lost, err := e.complete(ctx, results)
		if err != nil {
			e.log.Error("record attempts; their deliveries will be retried when their leases run out",
				"count", len(batch), "err", err)
		} else {
			e.afterComplete(batch, lost, recovered)
			if e.shared {
				e.Notify() // recorded attempts free their endpoints' slots in the store
			}
		}
		clear(batch)
		batch = batch[:0]
	}
	for {
		c, ok := <-e.results
		if !ok {
			return
		}
		batch = append(batch, c)
		timer.Reset(completeDelay)
	fill:
		for len(batch) < completeBatch {
			select {
			case c, ok := <-e.results:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			case <-timer.C:
				break fill
			}
		}
		timer.Stop()
		// Under load, take whatever else is already waiting.
	more:
		for len(batch) < maxCompleteBatch {
			select {
			case c, ok := <-e.results:
				if !ok {
					break more
				}
				batch = append(batch, c)
			default:
				break more
			}
		}
		flush()
	}
}

// complete calls CompleteAttempts, retrying a failing store a few times.
func (e *Engine) complete(ctx context.Context, results []store.AttemptResult) ([]int, error) {
	var err error
	for try := range 5 {
		if try > 0 {
			time.Sleep(time.Duration(try) * 200 * time.Millisecond)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		var lost []int
		lost, err = e.store.CompleteAttempts(cctx, results)
		cancel()
		if err == nil {
			return lost, nil
		}
		e.log.Warn("record attempts", "count", len(results), "try", try+1, "err", err)
	}
	return nil, fmt.Errorf("complete %d attempts: %w", len(results), err)
}

// afterComplete counts, logs and reports what was just recorded.
func (e *Engine) afterComplete(batch []completion, lost []int, recovered map[string]time.Time) {
	li := 0
	operational := false
	for i, c := range batch {
		r := &c.result
		a := &r.Attempt
		if li < len(lost) && lost[li] == i {
			li++
			e.log.Warn("attempt not recorded: lease lost to another claim",
				"endpoint_id", a.EndpointID, "delivery_id", r.DeliveryID, "attempt", a.Number, "status", a.StatusCode)
			continue
		}
		var outcome string
		switch r.Status {
		case store.StatusSucceeded:
			outcome = "success"
		case store.StatusPending:
			outcome = "retry"
		default:
			outcome = "failed"
		}
		e.metrics.delivered(outcome, c.scheme)
		e.recorded.Add(1)
		switch {
		case r.Status == store.StatusSucceeded:
			e.log.Debug("delivered", "endpoint_id", a.EndpointID, "delivery_id", r.DeliveryID, "attempt", a.Number, "status", a.StatusCode)
			if fs := c.endpoint.FailingSince; fs != nil && !recovered[a.EndpointID].Equal(*fs) {
				recovered[a.EndpointID] = *fs
				e.log.Info("endpoint recovered", "endpoint_id", a.EndpointID, "failing_since", *fs)
				operational = true // the store wrote delivery.recovered
			}
		case r.Status == store.StatusPending:
			e.log.Debug("attempt failed, will retry", "endpoint_id", a.EndpointID, "delivery_id", r.DeliveryID,
				"attempt", a.Number, "status", a.StatusCode, "err", a.Error, "next_attempt_at", r.NextAttemptAt, "aborted", c.aborted)
		default:
			e.log.Warn("delivery failed", "endpoint_id", a.EndpointID, "delivery_id", r.DeliveryID,
				"attempt", a.Number, "status", a.StatusCode, "err", a.Error)
			operational = true // the store wrote delivery.exhausted
		}
	}
	if operational {
		e.Notify() // send the operational webhook the store may have written
	}
}

// disableFailing disables endpoints that have been failing for
// DisableAfter.
func (e *Engine) disableFailing(ctx context.Context) {
	cutoff := e.now().Add(-e.cfg.DisableAfter)
	reason := "auto: failing since before " + cutoff.UTC().Format(time.RFC3339) + " (for more than " + e.cfg.DisableAfter.String() + ")"
	eps, err := e.store.DisableFailingEndpoints(ctx, cutoff, reason)
	if err != nil {
		if ctx.Err() == nil {
			e.log.ErrorContext(ctx, "disable failing endpoints", "err", err)
		}
		return
	}
	for _, ep := range eps {
		var since any
		if ep.FailingSince != nil {
			since = ep.FailingSince.UTC()
		}
		e.log.WarnContext(ctx, "endpoint disabled", "endpoint_id", ep.ID, "reason", reason, "failing_since", since)
	}
	if len(eps) > 0 {
		e.Notify() // send the endpoint.disabled webhooks the store wrote
	}
}

// queueStats feeds the queue gauges at scrape time.
func (e *Engine) queueStats(ctx context.Context) (store.QueueStats, error) {
	return e.store.QueueStats(ctx, e.now())
}
