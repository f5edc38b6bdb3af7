// Package store defines hookrelay's persistence: endpoints, events, the
// delivery queue, attempts and API keys, behind one interface with a SQLite
// implementation (internal/store/sqlite, the embedded default) and a
// PostgreSQL one. The conformance suite in internal/store/storetest runs
// against every implementation.
//
// # The queue
//
// The delivery queue lives in the same database as everything else, in the
// deliveries table, so that accepting an event and creating its deliveries
// is one transaction: an accepted event is never lost. A delivery is due
// when its status is pending and its next_attempt_at has passed. Claiming it
// moves next_attempt_at forward by the lease and bumps its Claim counter; a
// worker that dies mid-attempt simply lets the lease run out, after which the
// delivery is due again; or, when the process that died starts again, it
// takes back its own leases at once (ReleaseLeases): each claim records
// the node that made it. Completing an attempt names the claim it completes,
// so a worker whose lease was taken over cannot overwrite the newer claim's
// result.
//
// A store whose SetDispatcher reports true can also claim deliveries as it
// creates them and hand them straight to a Dispatcher (the delivery engine)
// once their transaction commits: the first attempt of a fresh delivery then
// costs no claim and no wait for the next poll. Such a delivery is stored
// already leased, so if the process dies before attempting it, it is due
// again when its lease runs out, or when the store is opened again and
// releases its leases, like any other claimed delivery.
//
// An endpoint with FIFO set has its deliveries attempted strictly one at a
// time in the order their events were accepted: only its oldest pending
// delivery is ever claimable, and while it is leased or waiting for a retry
// the ones behind it wait. An older delivery retried or replayed while the
// head is in flight waits for the head's attempt to end, and then goes
// first.
//
// # Limits across nodes
//
// Several nodes may claim from one database (PostgreSQL), so a limit on
// what an endpoint receives can only hold across them if the claims keep
// it. ClaimParams.MaxInFlight caps an endpoint's deliveries in flight:
// those claimed, their lease not over and their attempt not yet recorded,
// whichever node holds them. ClaimParams.RateLimits makes the claims spend
// tokens from a bucket per endpoint that every node shares, filling at the
// endpoint's RateLimit. Both are counted from the database, not from what
// one node remembers: a node that dies stops counting once its leases run
// out, and a restart changes nothing. How an implementation makes
// concurrent claims read and update that state one at a time is its own
// (the PostgreSQL store takes a per-endpoint advisory lock; the SQLite one
// has a single writer). A claim that keeps to the limits may claim fewer
// than it was allowed although more is due; a claimer that holds
// deliveries before sending them (the delivery engine) finds them counted
// as in flight.
//
// # History
//
// Prune deletes what is older than a cut-off, in small transactions, and
// EndpointHealth and DeliveryHistogram sum history up in the database for
// dashboards. Export and Import move a whole database between stores, of
// the same kind or not, as a stream of Records.
//
// Times are stored as Unix milliseconds.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Errors the Store methods return. Implementations translate their driver's
// errors to these, and wrap them with context.
var (
	// ErrNotFound: no row has the given id (or key, or hash).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the write would break a uniqueness rule.
	ErrConflict = errors.New("conflict")
	// ErrLeaseLost: CompleteAttempt named a claim that is no longer
	// current (another claim took the delivery over, or ReleaseLeases
	// released it); nothing was recorded.
	ErrLeaseLost = errors.New("lease lost")
)

// CompleteAttempt records one result with s.CompleteAttempts, for a
// worker that completes one claim at a time: ErrLeaseLost (wrapped) if
// its claim is no longer current, in which case nothing was written and
// the newer claim's state stands.
func CompleteAttempt(ctx context.Context, s Store, r AttemptResult) error {
	lost, err := s.CompleteAttempts(ctx, []AttemptResult{r})
	if err != nil {
		return err
	}
	if len(lost) > 0 {
		return fmt.Errorf("complete attempt of delivery %s, claim %d: %w", r.DeliveryID, r.Claim, ErrLeaseLost)
	}
	return nil
}

// Secret is one signing secret of an endpoint. Stores keep it encrypted at
// rest (see Config.Cipher); in memory it is plain text.
type Secret struct {
	Value     string     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"` // set on the old secret by a rotation
}

// String keeps the secret out of formatted output.
func (s Secret) String() string { return "[secret]" }

// LogValue keeps the secret out of logs.
func (s Secret) LogValue() slog.Value { return slog.StringValue("[secret]") }

// Endpoint is a URL that receives webhooks.
type Endpoint struct {
	ID          string
	Tenant      string // "" is the default tenant
	URL         string
	Description string
	Scheme      string // built-in scheme name, or "custom"
	// CustomScheme is the JSON of a signature.CustomConfig when Scheme is
	// "custom"; stored as is.
	CustomScheme []byte
	// Secrets, newest first. Secrets whose ExpiresAt has passed are dropped
	// by the store on read.
	Secrets    []Secret
	EventTypes []string // empty: every event type
	// Filter is the JSON text of a payload filter (internal/filter),
	// stored as given; nil for none. CreateEvent delivers an event only
	// to endpoints whose filter its payload matches.
	Filter   []byte
	Disabled bool
	// DisabledReason says why: "" when enabled, "manual" or "auto: ..."
	DisabledReason string
	FIFO           bool
	RateLimit      float64 // deliveries per second, 0 for none
	// TraceContext sends the W3C traceparent header of each delivery
	// attempt's span to the endpoint.
	TraceContext bool
	// FailingSince is when the current unbroken run of failed attempts
	// began, nil when the last attempt succeeded.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Headers are static headers sent with every attempt (their values
	// are secrets: sealed at rest with Auth and ClientTLS); nil for none.
	Headers map[string]string
	// Auth authenticates deliveries to the receiver; nil for none.
	Auth *ReceiverAuth
	// ClientTLS is the endpoint's client certificate; nil for none.
	ClientTLS *ClientTLS
	// Timeout bounds one attempt instead of the server's request timeout;
	// 0 means the server's.
	Timeout time.Duration
	// RetrySchedule replaces the server's retry schedule (the delay after
	// attempts 1, 2, ...); nil means the server's.
	RetrySchedule []time.Duration
}

// Accepts reports whether the endpoint subscribes to eventType. A filter
// entry matches exactly, or ends in ".*" and matches that prefix and
// anything below it ("invoice.*" matches "invoice.paid"); "*" matches all.
func (e *Endpoint) Accepts(eventType string) bool {
	if len(e.EventTypes) == 0 {
		return true
	}
	for _, f := range e.EventTypes {
		if f == "*" || f == eventType {
			return true
		}
		if p, ok := strings.CutSuffix(f, "*"); ok && strings.HasSuffix(p, ".") && strings.HasPrefix(eventType, p) {
			return true
		}
	}
	return false
}

// Event is a message accepted for delivery.
type Event struct {
	ID             string
	Tenant         string
	Type           string
	Payload        []byte // the exact JSON text received (any bytes for inbound events)
	IdempotencyKey string
	CreatedAt      time.Time
	// ContentType is the media type deliveries send the payload as; ""
	// means application/json. Inbound events keep the original request's.
	ContentType string
	// Headers are sent with every delivery, under the signature headers
	// (which win); nil for none. Inbound events carry the original
	// request's forwardable headers.
	Headers map[string]string
	// TraceParent is the W3C traceparent of the span that accepted the
	// event ("" when tracing was off), so that its deliveries' spans link
	// to it. It is never sent to endpoints as it is.
	TraceParent string
	// ErasedAt is when the payload and headers were erased (Payload is
	// then empty and Headers nil); nil while they are kept. Only GetEvent
	// reads it.
	ErasedAt *time.Time
}

// Accepted returns the copy of ev a store writes when it accepts it: its
// CreatedAt, now if zero, in UTC at millisecond precision, and an empty
// rather than nil Payload. The store still gives it an ID if it has none.
func Accepted(ev *Event) Event {
	e := *ev
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	e.CreatedAt = e.CreatedAt.UTC().Truncate(time.Millisecond)
	if e.Payload == nil {
		e.Payload = []byte{}
	}
	return e
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

const (
	StatusPending   DeliveryStatus = "pending"   // waiting for its next attempt (or in flight)
	StatusSucceeded DeliveryStatus = "succeeded" // an attempt got a 2xx
	StatusFailed    DeliveryStatus = "failed"    // retries exhausted or a final error; can be replayed
	StatusCanceled  DeliveryStatus = "canceled"  // its endpoint was deleted
)

// Delivery is one event on its way to one endpoint.
type Delivery struct {
	ID            string
	EventID       string
	EndpointID    string
	Tenant        string
	EventType     string
	Status        DeliveryStatus
	Attempts      int       // attempts made so far
	NextAttemptAt time.Time // when due (or lease expiry while in flight)
	Claim         int64     // bumped by each claim
	LastStatus    int       // HTTP status of the last attempt, 0 if none
	LastError     string
	FIFO          bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
	CompletedAt   *time.Time
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	ID             string
	DeliveryID     string
	EndpointID     string
	EventID        string
	Number         int // 1 for the first attempt
	StartedAt      time.Time
	Duration       time.Duration
	URL            string
	RequestHeaders map[string]string // as sent, signature included
	StatusCode     int               // 0 when no response arrived
	Error          string            // network error or timeout, "" on a response
	ResponseBody   []byte            // truncated
	Trigger        string            // "scheduled", "manual" or "replay"
}

// Job is a claimed delivery with what it takes to attempt it.
type Job struct {
	Delivery Delivery
	Event    Event
	Endpoint Endpoint
}

// A Dispatcher takes deliveries that a store claimed at creation
// (see Capabilities.SetDispatcher). See the package documentation.
type Dispatcher interface {
	// Admits reports whether a delivery to the endpoint would start at
	// once. The store asks while it writes, for each delivery it is about
	// to create, so it must be quick and must not call the store. A true
	// answer is a hint, not a reservation.
	Admits(endpointID string) bool
	// Dispatch takes jobs claimed at claimedAt, once their transaction has
	// committed. Each job's Delivery.Claim is 1 and its NextAttemptAt is
	// the end of its lease. It must not block or call the store.
	Dispatch(jobs []*Job, claimedAt time.Time)
}

// EventResult is what CreateEvents did with one event: Event is the event
// stored and Deliveries its deliveries, or, with Err wrapping ErrConflict,
// Event is the earlier event that holds its idempotency key.
type EventResult struct {
	Event      *Event
	Deliveries []*Delivery
	Err        error
}

// AnyUnclaimed reports whether some of the deliveries CreateEvent returned
// wait for a claim: those a store claimed at creation (Claim 1, see
// Capabilities.SetDispatcher) are on their way already. Callers notify the
// delivery engine only then.
func AnyUnclaimed(ds []*Delivery) bool {
	return slices.ContainsFunc(ds, func(d *Delivery) bool { return d.Claim == 0 })
}

// ClaimParams says which due deliveries to claim.
type ClaimParams struct {
	Now   time.Time
	Lease time.Duration // the claimed deliveries are due again after this
	Limit int
	// ExcludeEndpoints are endpoints whose deliveries are not to be claimed
	// now (at their concurrency or rate limit on this node).
	ExcludeEndpoints []string
	// MaxInFlight, if positive, caps each endpoint's deliveries in flight:
	// claimed, their lease not over at Now, and not completed since,
	// whichever Store of the database claimed them. The claim takes at
	// most MaxInFlight minus that many of an endpoint's deliveries, so
	// claims that all pass the cap never put more in flight, however many
	// Stores (nodes) make them at once. A delivery waiting for a retry is
	// not in flight, nor is one whose lease ran out. 0 means no cap.
	MaxInFlight int
	// RateLimits makes the claim keep to each endpoint's RateLimit, with a
	// token bucket per endpoint that every Store of the database shares:
	// it fills at RateLimit tokens a second up to RateBurst(RateLimit),
	// starts full, and each delivery claimed takes a whole token. So the
	// claims made with RateLimits, from any number of nodes, take at most
	// RateLimit*t + RateBurst(RateLimit) of an endpoint's deliveries in any
	// t seconds. Claims without it neither keep to the buckets nor use
	// them.
	RateLimits bool
}

// RateBurstWindow is how much of its rate an endpoint's token bucket
// holds at most (see RateBurst).
const RateBurstWindow = 100 * time.Millisecond

// RateBurst is the size of the token bucket of an endpoint limited to rate
// deliveries a second: what RateBurstWindow lets through, and at least one
// delivery. A bucket of one would let a claim take only one delivery of an
// endpoint, so that a fast limit (500/s) would take as many claims; one
// of a tenth of a second lets each claim take what the endpoint may
// receive in that time, and bounds the bursts across nodes to as much.
func RateBurst(rate float64) float64 {
	return max(1, rate*RateBurstWindow.Seconds())
}

// AttemptResult completes one claim.
type AttemptResult struct {
	DeliveryID string
	Claim      int64 // the Delivery.Claim the job was claimed with
	Attempt    Attempt
	// Status is the delivery's new status: StatusPending to retry at
	// NextAttemptAt, StatusSucceeded or StatusFailed.
	Status        DeliveryStatus
	NextAttemptAt time.Time
}

// APIKey authorizes calls to the API. Only a hash of the key is stored.
type APIKey struct {
	ID     string
	Name   string
	Hash   []byte // SHA-256 of the whole key
	Prefix string // the first characters, to recognize it in lists
	// Tenant is the only tenant the key sees; nil for every tenant.
	Tenant *string
	// Scopes are the key's scopes (internal/access); stored as given.
	// Empty is read back as ["admin"], which is what keys made before
	// scopes existed hold.
	Scopes     []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// KeyUseInterval is how often at most TouchAPIKey records a key's use.
const KeyUseInterval = time.Minute

// AuditEntry is one change recorded in the audit log: who made it, what
// it was, when and from where. It never holds a secret value.
type AuditEntry struct {
	ID string
	At time.Time
	// ActorKind is "key" (an API key), "token" (a tenant token; ActorID
	// is the key that minted it), "admin" or "tenant" (a dashboard
	// session; ActorID is the admin session's key).
	ActorKind string
	ActorID   string
	// Tenant is the tenant the change concerns, or the actor's; nil for
	// none (an admin's change of an inbound source, a key of every
	// tenant).
	Tenant     *string
	Action     string // such as "endpoint.update", "secret.reveal"
	Target     string // the id changed, "" when none
	RemoteAddr string
	// Detail is a short description for people, without secrets.
	Detail string
}

// AuditFilter selects audit entries to list, newest first.
type AuditFilter struct {
	Tenant *string // nil: every entry
	Page
}

// Page asks for one page of a list ordered by id, newest first.
type Page struct {
	Limit  int    // 0 means 50; at most 1000
	Cursor string // the Next of the previous page; "" for the first
}

// DeliveryFilter selects deliveries to list; empty fields match all.
type DeliveryFilter struct {
	Tenant     *string // nil: any tenant
	EventID    string
	EndpointID string
	EventType  string
	Status     DeliveryStatus
	Since      time.Time // created at or after; zero for no bound
	Until      time.Time // created before; zero for no bound
	Page
}

// EndpointFilter selects endpoints to list.
type EndpointFilter struct {
	Tenant *string // nil: any tenant
	// Tenants, when not empty, selects the endpoints of any of these
	// tenants (and of Tenant too, if it is set): the destinations of a
	// page of sources in one query.
	Tenants []string
	Page
}

// QueueStats is the shape of the queue at a moment, for metrics.
type QueueStats struct {
	Pending           int64         // deliveries with status pending
	Due               int64         // pending and due now
	OldestDueAge      time.Duration // how long the oldest due delivery has waited; 0 if none
	DisabledEndpoints int64
}

// Store is everything hookrelay persists. Implementations are safe for
// concurrent use. Methods return ErrNotFound, ErrConflict or ErrLeaseLost
// (wrapped) where documented, and other errors for failures of the database.
type Store interface {
	// CreateEndpoint inserts e; e.ID, CreatedAt and UpdatedAt must be set.
	// ErrConflict if the id exists.
	CreateEndpoint(ctx context.Context, e *Endpoint) error
	// GetEndpoint returns the endpoint or ErrNotFound.
	GetEndpoint(ctx context.Context, id string) (*Endpoint, error)
	// ListEndpoints returns a page of endpoints, newest first, and the
	// cursor of the next page ("" at the end).
	ListEndpoints(ctx context.Context, f EndpointFilter) ([]*Endpoint, string, error)
	// UpdateEndpoint changes the endpoint id in one transaction: it reads
	// the stored endpoint (every secret included, expired ones dropped as
	// on read), calls fn with it, and writes only the fields of the patch
	// fn returns, and UpdatedAt, so that concurrent changes of other
	// fields (the engine's FailingSince and auto-disable, another
	// request's) are never undone. fn must be a pure function of its
	// argument, quick, without I/O and without calling the store: it runs
	// inside the transaction and may run more than once if the
	// transaction is retried. An error from fn aborts the update, nothing
	// written, and is returned wrapped (errors.Is/As work on it).
	// ErrNotFound if there is none. It returns the endpoint as stored
	// after the change.
	UpdateEndpoint(ctx context.Context, id string, fn func(*Endpoint) (EndpointPatch, error)) (*Endpoint, error)
	// DeleteEndpoint removes the endpoint and cancels its pending
	// deliveries (their history stays). ErrNotFound if there is none.
	DeleteEndpoint(ctx context.Context, id string) error

	// CreateEvent durably stores ev and one pending delivery, due at
	// ev.CreatedAt, for each enabled endpoint of ev.Tenant that Accepts
	// ev.Type and whose Filter, if any, ev.Payload matches (a payload that
	// is not JSON matches no filter), in one transaction, and returns the deliveries. If
	// ev.IdempotencyKey is set and the tenant has an event with the same
	// key created after idempotentSince, nothing is written and the earlier
	// event is returned with ErrConflict. It returns only once the
	// transaction is committed.
	CreateEvent(ctx context.Context, ev *Event, idempotentSince time.Time) (*Event, []*Delivery, error)
	// CreateEvents is CreateEvent for each event of evs, all in one
	// transaction: it returns one result per event, in order, once the
	// transaction is committed. An event whose idempotency key is in use
	// (by an earlier event, or by an earlier one of evs) gets the earlier
	// event with ErrConflict in its result, and the others are stored all
	// the same. Any other error fails the whole call and nothing is
	// written.
	CreateEvents(ctx context.Context, evs []*Event, idempotentSince time.Time) ([]EventResult, error)
	// GetEvent returns the event or ErrNotFound.
	GetEvent(ctx context.Context, id string) (*Event, error)

	// ClaimDueDeliveries claims up to p.Limit due deliveries (pending,
	// NextAttemptAt <= p.Now, and for FIFO endpoints only the oldest pending
	// one) of enabled endpoints, oldest due first: it sets their
	// NextAttemptAt to p.Now+p.Lease and increments their Claim. With
	// p.MaxInFlight or p.RateLimits it leaves out what would go past an
	// endpoint's cap or its tokens (see ClaimParams), and may then claim
	// fewer than p.Limit although more are due.
	ClaimDueDeliveries(ctx context.Context, p ClaimParams) ([]*Job, error)
	// CompleteAttempts records each result's attempt and applies its new
	// status, each only if the delivery's Claim still equals r.Claim;
	// results whose claim is stale are skipped and reported by index in
	// lost. It also maintains each endpoint's FailingSince.
	CompleteAttempts(ctx context.Context, results []AttemptResult) (lost []int, err error)
	// ReleaseLeases takes back, at once, the leases of an earlier run of
	// this Store's node, whose attempts died with it: each pending
	// delivery so leased, its lease not over at now, becomes due at now,
	// with its Claim bumped so that a result of the dead claim is lost
	// (CompleteAttempts) rather than recorded. Which leases are the node's
	// is the store's to know: a store that one process alone opens
	// (SQLite, which holds a lock file while open; Shared false) knows
	// every lease in the database is a dead process's and releases them
	// all; a shared one (PostgreSQL) releases those its claims recorded
	// under its node id, and leaves other nodes' to run out. Call it once
	// at start, before this Store claims or creates anything (the engine
	// does, as Run starts): it cannot tell this run's leases from the
	// earlier one's. It returns how many it released.
	ReleaseLeases(ctx context.Context, now time.Time) (int, error)
	// GetDelivery returns the delivery or ErrNotFound.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns a page of deliveries, newest first.
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, string, error)
	// ListAttempts returns the attempts of a delivery, first attempt first.
	ListAttempts(ctx context.Context, deliveryID string) ([]*Attempt, error)
	// RetryDelivery makes a delivery that is not in flight due at now
	// (a failed one becomes pending again). ErrNotFound if there is none.
	RetryDelivery(ctx context.Context, id string, now time.Time) (*Delivery, error)
	// ReplayFailed makes every failed delivery of the endpoint created at or
	// after since due at now, and returns how many.
	ReplayFailed(ctx context.Context, endpointID string, since, now time.Time) (int, error)

	// DisableFailingEndpoints disables every enabled endpoint whose
	// FailingSince is before failingBefore, with the given reason, and
	// returns them.
	DisableFailingEndpoints(ctx context.Context, failingBefore time.Time, reason string) ([]*Endpoint, error)
	// QueueStats measures the queue at now.
	QueueStats(ctx context.Context, now time.Time) (QueueStats, error)

	// CreateAPIKey inserts k. ErrConflict if its hash exists.
	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns the unrevoked key with this hash or ErrNotFound.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)
	// ListAPIKeys returns every key, revoked ones included.
	ListAPIKeys(ctx context.Context) ([]*APIKey, error)
	// RevokeAPIKey revokes a key by id. ErrNotFound if there is none.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	// CountEndpoints counts the endpoints of tenant, up to max: it returns
	// max when there are more. It reads no endpoint, so that a bound on
	// them costs one query, whatever their number.
	CountEndpoints(ctx context.Context, tenant string, max int) (int, error)
	// CountAPIKeys returns the number of unrevoked keys.
	CountAPIKeys(ctx context.Context) (int, error)
	// GetAPIKey returns the key with this id, revoked or not, or
	// ErrNotFound.
	GetAPIKey(ctx context.Context, id string) (*APIKey, error)
	// TouchAPIKey sets the key's LastUsedAt to at, and writes nothing
	// else, unless it was set less than KeyUseInterval before at: the
	// throttle holds across every node of the database. It reports
	// whether it wrote. ErrNotFound is not returned for an unknown id
	// (nothing is written).
	TouchAPIKey(ctx context.Context, id string, at time.Time) (bool, error)

	// AddAudit appends e to the audit log; e.ID and At must be set.
	AddAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns a page of audit entries, newest first, and the
	// cursor of the next page.
	ListAudit(ctx context.Context, f AuditFilter) ([]*AuditEntry, string, error)

	// CreateEventFor is CreateEvent for chosen endpoints, whatever their
	// event type filters, for a test event: it durably stores ev and one
	// pending delivery, due at ev.CreatedAt, for each endpoint of
	// endpointIDs that exists, belongs to ev.Tenant and is enabled, in one
	// transaction, and returns the deliveries. If none of them qualifies,
	// nothing is written and the error is ErrNotFound. It takes no part in
	// idempotency: ev.IdempotencyKey must be empty. ErrConflict if ev.ID
	// exists.
	CreateEventFor(ctx context.Context, ev *Event, endpointIDs []string) (*Event, []*Delivery, error)
	// EndpointHealth sums up, for each endpoint of ids, its last most
	// recently attempted deliveries (in the order of their latest attempt's
	// start), in one query per batch of endpoints rather than one per
	// endpoint. Every id gets an entry, the zero EndpointHealth for an
	// endpoint with no attempt on record (or no such endpoint). last <= 0
	// means 20.
	EndpointHealth(ctx context.Context, ids []string, last int) (map[string]EndpointHealth, error)
	// DeliveryHistogram counts the deliveries that f selects (f.Page
	// aside), created in [f.Since, f.Until), by their status now, per
	// bucket of the given width starting at f.Since. It returns every
	// bucket of the range, oldest first, empty ones included; the last
	// one may end past f.Until. The counting is done by the database.
	// f.Since and f.Until are required, and bucket must be positive and
	// cut the range into at most MaxHistogramBuckets.
	DeliveryHistogram(ctx context.Context, f DeliveryFilter, bucket time.Duration) ([]HistogramBucket, error)
	// Prune deletes history older than p.Before (see PruneParams), in
	// transactions of at most p.Batch rows each, so that the queue is
	// never held up for long, and returns how many rows it deleted.
	// Pending deliveries and their events are never deleted (their
	// attempts older than p.Before are). On an error, what was deleted
	// before it is reported along with it.
	Prune(ctx context.Context, p PruneParams) (PruneResult, error)

	// Export calls fn with every row of every table, as Records in
	// dependency order (RecordKinds), each table in key order, from one
	// consistent snapshot of the database, and stops at fn's first error,
	// which it returns wrapped. Endpoint and source secrets are exported
	// sealed, as stored: a store that imports them must be opened with the
	// same Cipher key. A long export keeps the database from reclaiming space
	// while it runs (the SQLite store's WAL, PostgreSQL's dead rows).
	Export(ctx context.Context, fn func(Record) error) error
	// Import inserts records, as Export wrote them, into an empty store,
	// preserving every id and field, in transactions of up to
	// ImportBatch records. ErrConflict, and nothing is written, if the
	// store is not empty. Records must come in Export's order (a delivery
	// after its event, an attempt after its delivery). An error from
	// records or from a record stops the import; what was committed
	// before it stays, so import into a store that will be thrown away
	// if it fails.
	Import(ctx context.Context, records iter.Seq2[Record, error]) error

	// Sources keeps the inbound gateway's sources (sources.go).
	Sources
	// Sessions keeps the dashboard's sessions (sessions.go).
	Sessions
	// EventTypes keeps the event catalog (eventtypes.go).
	EventTypes
	// Replays gives endpoints the events they missed (replay.go).
	Replays
	// Erasure deletes content on request and by retention (erase.go).
	Erasure
	// Stats sums up endpoints' recent attempts (stats.go).
	Stats

	// Capabilities says what the backend can do (capabilities.go).
	Capabilities

	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the store; pending writes are finished first.
	Close() error
}

// Cipher seals secrets for storage. internal/secretbox implements it with
// AES-256-GCM.
type Cipher interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(ciphertext []byte) ([]byte, error)
}

// EndpointHealth sums up an endpoint's most recently attempted deliveries
// (see Store.EndpointHealth).
type EndpointHealth struct {
	// Recent is how many deliveries the figures cover: the endpoint's
	// most recently attempted ones, at most as many as asked for.
	Recent int
	// Succeeded and Failed count those of Recent whose status is now
	// succeeded or failed; the others are pending (waiting for a retry or
	// in flight) or canceled.
	Succeeded int
	Failed    int
	// LastStatus is the HTTP status of the endpoint's latest attempt, 0
	// if no response came back; LastError is its error, "" on a response.
	LastStatus int
	LastError  string
	// LastAttemptAt is when the latest attempt started; nil if the
	// endpoint has no attempt on record.
	LastAttemptAt *time.Time
}

// MaxHistogramBuckets bounds how many buckets one DeliveryHistogram may
// return.
const MaxHistogramBuckets = 10000

// HistogramBucket counts the deliveries created in [Start, Start+bucket)
// by their status now. Canceled deliveries are not counted.
type HistogramBucket struct {
	Start     time.Time
	Succeeded int
	Failed    int
	Pending   int
}

// DefaultPruneBatch is PruneParams.Batch's default.
const DefaultPruneBatch = 1000

// PruneParams says what Prune deletes: every row of history older than
// Before, that is
//
//   - attempts started before Before, whatever their delivery's status;
//   - deliveries succeeded, failed or canceled, completed before Before
//     (with any attempt of theirs left);
//   - idempotency keys created before Before, so Before must be older
//     than the idempotency window for keys to keep working;
//   - events created before Before that have no delivery left;
//   - audit log entries recorded before Before.
//
// Pending deliveries and their events are never pruned.
type PruneParams struct {
	Before time.Time
	// Batch bounds the rows one transaction deletes; 0 means
	// DefaultPruneBatch.
	Batch int
}

// PruneResult says how many rows Prune deleted, table by table.
type PruneResult struct {
	Attempts        int64
	Deliveries      int64
	IdempotencyKeys int64
	Events          int64
	AuditEntries    int64
}

// Record is one row of a store, as Export writes it and Import reads it:
// Kind names the table and Data holds the row as the JSON of the record
// type of that kind (APIKeyRecord, EndpointRecord, ...). The format is the
// same for every store implementation, so that a stream of Records moves a
// database from one to another (`hookrelay export | hookrelay import`).
// Times are Unix milliseconds, as stored; byte strings are base64.
type Record struct {
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// Record kinds, one per table. The inbound gateway's rejections, kept a
// short while for inspection, and the queue's own state (the endpoints'
// token buckets) are not exported.
const (
	KindAPIKey         = "api_key"
	KindEndpoint       = "endpoint"
	KindSource         = "source"
	KindEventType      = "event_type"
	KindEvent          = "event"
	KindIdempotencyKey = "idempotency_key"
	KindDelivery       = "delivery"
	KindAttempt        = "attempt"
	KindAudit          = "audit"
)

// RecordKinds lists the kinds in dependency order, the order in which
// Export writes them and Import expects them. A stream written before a
// kind was added (no source records) is still in order.
var RecordKinds = []string{KindAPIKey, KindEndpoint, KindSource, KindEventType, KindEvent, KindIdempotencyKey, KindDelivery, KindAttempt, KindAudit}

// ImportBatch is how many records Import commits per transaction.
const ImportBatch = 1000

// NewRecord returns a Record of kind holding the JSON of data.
func NewRecord(kind string, data any) (Record, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return Record{}, fmt.Errorf("encode %s record: %w", kind, err)
	}
	return Record{Kind: kind, Data: b}, nil
}

// APIKeyRecord is the Data of a KindAPIKey Record: a row of APIKey.
type APIKeyRecord struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Hash       []byte `json:"hash"`
	Prefix     string `json:"prefix"`
	CreatedAt  int64  `json:"created_at"`
	LastUsedAt *int64 `json:"last_used_at"`
	RevokedAt  *int64 `json:"revoked_at"`
	// Tenant and Scopes are absent from streams written before keys had
	// them: such keys are admins of every tenant.
	Tenant *string  `json:"tenant"`
	Scopes []string `json:"scopes"`
}

// KeyScopes returns what a key's stored scopes mean: ["admin"] when none.
func KeyScopes(scopes []string) []string {
	if len(scopes) == 0 {
		return []string{"admin"}
	}
	return scopes
}

// EndpointRecord is the Data of a KindEndpoint Record: a row of Endpoint,
// its secrets sealed with the exporting store's Cipher.
type EndpointRecord struct {
	ID            string   `json:"id"`
	Tenant        string   `json:"tenant"`
	URL           string   `json:"url"`
	Description   string   `json:"description"`
	Scheme        string   `json:"scheme"`
	CustomScheme  []byte   `json:"custom_scheme"` // null when none
	SealedSecrets []byte   `json:"sealed_secrets"`
	EventTypes    []string `json:"event_types"`
	// Filter is the payload filter's JSON text; absent or null when none
	// (streams written before filters have none).
	Filter         *string `json:"filter,omitempty"`
	Disabled       bool    `json:"disabled"`
	DisabledReason string  `json:"disabled_reason"`
	FIFO           bool    `json:"fifo"`
	RateLimit      float64 `json:"rate_limit"`
	TraceContext   bool    `json:"trace_context"`
	FailingSince   *int64  `json:"failing_since"`
	CreatedAt      int64   `json:"created_at"`
	UpdatedAt      int64   `json:"updated_at"`
	// SealedSettings is the sealed headers, receiver authentication and
	// client certificate (see SealSettings); null when none.
	SealedSettings  []byte  `json:"sealed_settings,omitempty"`
	TimeoutMS       int64   `json:"timeout_ms,omitempty"`
	RetryScheduleMS []int64 `json:"retry_schedule_ms,omitempty"`
}

// SourceRecord is the Data of a KindSource Record: a row of Source, its
// secrets (and Zoom secret token) sealed with the exporting store's Cipher,
// in the form both stores seal them.
type SourceRecord struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Description    string `json:"description"`
	Scheme         string `json:"scheme"`
	CustomScheme   []byte `json:"custom_scheme"` // null when none
	SealedSecrets  []byte `json:"sealed_secrets"`
	ToleranceMS    int64  `json:"tolerance_ms"`
	DedupeMS       int64  `json:"dedupe_ms"`
	SlackChallenge bool   `json:"slack_challenge"`
	CreatedAt      int64  `json:"created_at"`
	UpdatedAt      int64  `json:"updated_at"`
}

// EventRecord is the Data of a KindEvent Record: a row of Event, its
// payload byte for byte.
type EventRecord struct {
	ID             string            `json:"id"`
	Tenant         string            `json:"tenant"`
	Type           string            `json:"type"`
	Payload        []byte            `json:"payload"`
	IdempotencyKey *string           `json:"idempotency_key"` // null when none
	CreatedAt      int64             `json:"created_at"`
	ContentType    string            `json:"content_type"`
	Headers        map[string]string `json:"headers"` // null when none
	TraceParent    string            `json:"traceparent,omitempty"`
	// ErasedAt is when the payload was erased; absent (null) when kept.
	ErasedAt *int64 `json:"erased_at,omitempty"`
}

// EventRecordOf returns the record of ev.
func EventRecordOf(ev *Event) *EventRecord {
	r := &EventRecord{
		ID:          ev.ID,
		Tenant:      ev.Tenant,
		Type:        ev.Type,
		Payload:     ev.Payload,
		CreatedAt:   ev.CreatedAt.UnixMilli(),
		ContentType: ev.ContentType,
		Headers:     ev.Headers,
		TraceParent: ev.TraceParent,
	}
	if ev.IdempotencyKey != "" {
		r.IdempotencyKey = &ev.IdempotencyKey
	}
	if ev.ErasedAt != nil {
		at := ev.ErasedAt.UnixMilli()
		r.ErasedAt = &at
	}
	if r.Payload == nil {
		r.Payload = []byte{}
	}
	if len(r.Headers) == 0 {
		r.Headers = nil
	}
	return r
}

// IdempotencyKeyRecord is the Data of a KindIdempotencyKey Record: which
// event a tenant's idempotency key last named.
type IdempotencyKeyRecord struct {
	Tenant         string `json:"tenant"`
	IdempotencyKey string `json:"idempotency_key"`
	EventID        string `json:"event_id"`
	CreatedAt      int64  `json:"created_at"`
}

// DeliveryRecord is the Data of a KindDelivery Record: a row of Delivery
// with the queue's own columns, its lease and its hold flag.
type DeliveryRecord struct {
	ID            string `json:"id"`
	EventID       string `json:"event_id"`
	EndpointID    string `json:"endpoint_id"`
	Tenant        string `json:"tenant"`
	EventType     string `json:"event_type"`
	Status        string `json:"status"`
	Attempts      int    `json:"attempts"`
	NextAttemptAt int64  `json:"next_attempt_at"`
	Claim         int64  `json:"claim"`
	LeasedUntil   *int64 `json:"leased_until"`
	Hold          bool   `json:"hold"`
	LastStatus    int    `json:"last_status"`
	LastError     string `json:"last_error"`
	FIFO          bool   `json:"fifo"`
	CreatedAt     int64  `json:"created_at"`
	UpdatedAt     int64  `json:"updated_at"`
	CompletedAt   *int64 `json:"completed_at"`
}

// AuditRecord is the Data of a KindAudit Record: an AuditEntry.
type AuditRecord struct {
	ID         string  `json:"id"`
	At         int64   `json:"at"`
	ActorKind  string  `json:"actor_kind"`
	ActorID    string  `json:"actor_id"`
	Tenant     *string `json:"tenant"`
	Action     string  `json:"action"`
	Target     string  `json:"target"`
	RemoteAddr string  `json:"remote_addr"`
	Detail     string  `json:"detail"`
}

// AttemptRecord is the Data of a KindAttempt Record: a row of Attempt.
type AttemptRecord struct {
	ID             string            `json:"id"`
	DeliveryID     string            `json:"delivery_id"`
	EndpointID     string            `json:"endpoint_id"`
	EventID        string            `json:"event_id"`
	Number         int               `json:"attempt_number"`
	StartedAt      int64             `json:"started_at"`
	DurationNS     int64             `json:"duration_ns"`
	URL            string            `json:"url"`
	RequestHeaders map[string]string `json:"request_headers"`
	StatusCode     int               `json:"status_code"`
	Error          string            `json:"error_message"`
	ResponseBody   []byte            `json:"response_body"` // null when none
	Trigger        string            `json:"trigger_kind"`
}
