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
// delivery is due again. Completing an attempt names the claim it completes,
// so a worker whose lease was taken over cannot overwrite the newer claim's
// result.
//
// An endpoint with FIFO set has its deliveries attempted strictly one at a
// time in the order their events were accepted: only its oldest pending
// delivery is ever claimable, and while it is leased or waiting for a retry
// the ones behind it wait.
//
// Times are stored as Unix milliseconds.
package store

import (
	"context"
	"errors"
	"log/slog"
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
	// ErrLeaseLost: CompleteAttempt named a claim that is no longer current.
	ErrLeaseLost = errors.New("lease lost")
)

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
	Disabled   bool
	// DisabledReason says why: "" when enabled, "manual" or "auto: ..."
	DisabledReason string
	FIFO           bool
	RateLimit      float64 // deliveries per second, 0 for none
	// FailingSince is when the current unbroken run of failed attempts
	// began, nil when the last attempt succeeded.
	FailingSince *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
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
	Payload        []byte // the exact JSON text received
	IdempotencyKey string
	CreatedAt      time.Time
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

// ClaimParams says which due deliveries to claim.
type ClaimParams struct {
	Now   time.Time
	Lease time.Duration // the claimed deliveries are due again after this
	Limit int
	// ExcludeEndpoints are endpoints whose deliveries are not to be claimed
	// now (at their concurrency or rate limit on this node).
	ExcludeEndpoints []string
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
	ID         string
	Name       string
	Hash       []byte // SHA-256 of the whole key
	Prefix     string // the first characters, to recognize it in lists
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
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
	// UpdateEndpoint replaces every field of the stored endpoint e.ID but
	// ID and CreatedAt. ErrNotFound if there is none.
	UpdateEndpoint(ctx context.Context, e *Endpoint) error
	// DeleteEndpoint removes the endpoint and cancels its pending
	// deliveries (their history stays). ErrNotFound if there is none.
	DeleteEndpoint(ctx context.Context, id string) error

	// CreateEvent durably stores ev and one pending delivery, due at
	// ev.CreatedAt, for each enabled endpoint of ev.Tenant that Accepts
	// ev.Type, in one transaction, and returns the deliveries. If
	// ev.IdempotencyKey is set and the tenant has an event with the same
	// key created after idempotentSince, nothing is written and the earlier
	// event is returned with ErrConflict. It returns only once the
	// transaction is committed.
	CreateEvent(ctx context.Context, ev *Event, idempotentSince time.Time) (*Event, []*Delivery, error)
	// GetEvent returns the event or ErrNotFound.
	GetEvent(ctx context.Context, id string) (*Event, error)

	// ClaimDueDeliveries claims up to p.Limit due deliveries (pending,
	// NextAttemptAt <= p.Now, and for FIFO endpoints only the oldest pending
	// one) of enabled endpoints, oldest due first: it sets their
	// NextAttemptAt to p.Now+p.Lease and increments their Claim.
	ClaimDueDeliveries(ctx context.Context, p ClaimParams) ([]*Job, error)
	// CompleteAttempts records each result's attempt and applies its new
	// status, each only if the delivery's Claim still equals r.Claim;
	// results whose claim is stale are skipped and reported by index in
	// lost. It also maintains each endpoint's FailingSince.
	CompleteAttempts(ctx context.Context, results []AttemptResult) (lost []int, err error)
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
	// CountAPIKeys returns the number of unrevoked keys.
	CountAPIKeys(ctx context.Context) (int, error)

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
