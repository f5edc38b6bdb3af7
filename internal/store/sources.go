package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"
)

// SourceTenantPrefix starts the tenant of a source's destinations: the
// destinations of source "github" are the endpoints of tenant
// "source:github", and the requests it accepts are events of that tenant.
const SourceTenantPrefix = "source:"

// SourceEventPrefix starts the event type of the requests a source accepts:
// "inbound.github" for source "github".
const SourceEventPrefix = "inbound."

// MaxRejectionBody is how much of a rejected request's body is kept.
const MaxRejectionBody = 4 << 10

// Source is a sender of incoming webhooks (GitHub, Stripe, a partner). The
// inbound gateway receives its requests at /in/{Name}, verifies them with
// its scheme and secrets, and forwards those it accepts, as events of
// tenant SourceTenantPrefix+Name, to the endpoints of that tenant: its
// destinations.
type Source struct {
	ID string
	// Name is a slug, unique among sources and never changed: the ingest
	// path and the tenant of the destinations derive from it.
	Name        string
	Description string
	Scheme      string // built-in scheme name, or "custom"
	// CustomScheme is the JSON of a signature.CustomConfig when Scheme is
	// "custom"; stored as is.
	CustomScheme []byte
	// Secrets verify requests, newest first; several during a rotation.
	// Secrets whose ExpiresAt has passed are dropped by the store on read.
	Secrets []Secret
	// Tolerance is how far a signed timestamp may be from now; 0 means the
	// scheme's own.
	Tolerance time.Duration
	// DedupeWindow is how long a message ID is remembered: a request with
	// the ID of a message accepted within it is acknowledged and dropped.
	DedupeWindow time.Duration
	// SlackChallenge answers Slack's url_verification handshake.
	SlackChallenge bool
	// ZoomSecret, when its Value is set, is the Secret Token of a Zoom app,
	// used to answer Zoom's endpoint.url_validation handshake. Sealed like
	// Secrets.
	ZoomSecret Secret
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ValidSourceName reports whether name can name a source: 1 to 63
// lowercase letters, digits and hyphens, not starting with a hyphen. Such a
// name needs no escaping in a URL path.
func ValidSourceName(name string) bool {
	if name == "" || len(name) > 63 || name[0] == '-' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Tenant returns the tenant of the source's destinations and events.
func (s *Source) Tenant() string { return SourceTenantPrefix + s.Name }

// EventType returns the type of the events the source's requests become.
func (s *Source) EventType() string { return SourceEventPrefix + s.Name }

// LogValue keeps the secrets out of logs.
func (s *Source) LogValue() slog.Value {
	return slog.GroupValue(slog.String("id", s.ID), slog.String("name", s.Name), slog.String("scheme", s.Scheme))
}

// Rejection is a request the inbound gateway refused, kept for a while for
// inspection. It never holds credentials: headers that carry them
// (Authorization, Cookie, tokens) are redacted before it is stored.
type Rejection struct {
	ID         string
	SourceID   string
	ReceivedAt time.Time
	// Reason is the short phrase the sender was answered with, such as
	// "signature mismatch".
	Reason string
	// Detail says more, for the operator: which header, how far off the
	// timestamp was. It never holds a secret or an expected signature.
	Detail     string
	RemoteAddr string
	Headers    map[string]string
	// Body is the start of the body, at most MaxRejectionBody bytes.
	Body []byte
	// BodySize is the length of the whole body.
	BodySize int64
}

// RejectionFilter selects rejections to list.
type RejectionFilter struct {
	SourceID string // "" for every source
	Page
}

// Sources is the part of a Store that keeps inbound sources and the
// requests they refused.
type Sources interface {
	// CreateSource inserts src and its destinations (endpoints of
	// src.Tenant(), ids and times set) in one transaction: either all are
	// stored or nothing is. src's ID, Name, CreatedAt and UpdatedAt must be
	// set. ErrConflict if the source's id or name or a destination's id
	// exists.
	CreateSource(ctx context.Context, src *Source, destinations []*Endpoint) error
	// GetSource returns the source or ErrNotFound.
	GetSource(ctx context.Context, id string) (*Source, error)
	// SourceByName returns the source called name or ErrNotFound.
	SourceByName(ctx context.Context, name string) (*Source, error)
	// ListSources returns a page of sources, newest first, and the cursor
	// of the next page ("" at the end).
	ListSources(ctx context.Context, p Page) ([]*Source, string, error)
	// UpdateSource is UpdateEndpoint for sources: in one transaction it
	// reads the stored source (expired secrets dropped as on read), calls
	// fn with it and writes only the fields of the patch fn returns, and
	// UpdatedAt. fn runs inside the transaction, may run more than once,
	// and must be quick and pure; an error from fn aborts the update,
	// nothing written, and is returned wrapped. ErrNotFound if there is
	// none. It returns the source as stored after the change.
	UpdateSource(ctx context.Context, id string, fn func(*Source) (SourcePatch, error)) (*Source, error)
	// DeleteSource removes, in one transaction, the source, its rejections
	// and its destinations (the endpoints of its tenant), canceling their
	// pending deliveries as DeleteEndpoint does; its events and their
	// history stay. ErrNotFound if there is none.
	DeleteSource(ctx context.Context, id string) error

	// AddRejection stores r; r.ID and ReceivedAt must be set, and Body is
	// cut to MaxRejectionBody bytes.
	AddRejection(ctx context.Context, r *Rejection) error
	// ListRejections returns a page of rejections, newest first.
	ListRejections(ctx context.Context, f RejectionFilter) ([]*Rejection, string, error)
	// PruneRejections deletes the rejections received before before and
	// returns how many.
	PruneRejections(ctx context.Context, before time.Time) (int64, error)
}

// EncodeEventHeaders is how stores keep Event.Headers: a JSON object.
func EncodeEventHeaders(h map[string]string) (string, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return "", fmt.Errorf("encode event headers: %w", err)
	}
	return string(b), nil
}

// DecodeEventHeaders reads what EncodeEventHeaders wrote into *h; "" (a
// NULL column) leaves *h nil.
func DecodeEventHeaders(s string, h *map[string]string) error {
	*h = nil
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), h); err != nil {
		return fmt.Errorf("decode event headers: %w", err)
	}
	if len(*h) == 0 {
		*h = nil
	}
	return nil
}

// Bounds on what the inbound gateway's rejections may take up in a store.
const (
	// MaxRejectionBytes bounds one stored rejection: its headers, as the
	// JSON object stored, and its body together. AddRejection cuts the
	// body to fit, and keeps no headers if they alone are larger.
	MaxRejectionBytes = 8 << 10
	// RejectionBudget bounds the rejections kept per source, counted as
	// MaxRejectionBytes counts them: AddRejection deletes the source's
	// oldest rejections past it in the same transaction as the insert, so
	// that a flood of junk requests (which need no credentials) takes at
	// most this much space per source, whatever the retention.
	RejectionBudget = 1 << 20
)

// RejectionSize returns the headers, as stored, and body of r cut to
// MaxRejectionBytes together (the body first, then the headers, which
// become an empty object if they alone are larger), and the number of
// bytes they take, for the stores' AddRejection.
func RejectionSize(r *Rejection) (headers string, body []byte, size int64, err error) {
	h := r.Headers
	if h == nil {
		h = map[string]string{}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "", nil, 0, fmt.Errorf("encode rejection headers: %w", err)
	}
	if len(b) > MaxRejectionBytes {
		b = []byte("{}")
	}
	body = r.Body[:min(len(r.Body), MaxRejectionBody, MaxRejectionBytes-len(b))]
	if body == nil {
		body = []byte{}
	}
	return string(b), body, int64(len(b) + len(body)), nil
}
