package store

import "time"

// EndpointPatch names the fields of an endpoint that a change writes;
// nil fields stay as stored. It has no field for what the delivery engine
// owns (FailingSince, the automatic disabling), so that no change made
// for a person can undo the engine's.
type EndpointPatch struct {
	URL         *string
	Description *string
	Scheme      *string
	// CustomScheme, when set, replaces the custom scheme JSON; a pointer
	// to nil clears it.
	CustomScheme *[]byte
	// Secrets, when set, replaces every secret, newest first.
	Secrets    *[]Secret
	EventTypes *[]string
	// Filter, when set, replaces the payload filter's JSON text; a
	// pointer to nil (or to an empty text) removes it.
	Filter    *[]byte
	FIFO      *bool
	RateLimit *float64
	// TraceContext turns the traceparent header of deliveries on or off.
	TraceContext *bool
	// Enabled, when set and different from the stored state, enables the
	// endpoint (Disabled false, DisabledReason "", FailingSince nil: a
	// fresh start) or disables it by hand (Disabled true, DisabledReason
	// "manual"). Enabling an enabled endpoint keeps its FailingSince, and
	// disabling a disabled one keeps its reason.
	Enabled *bool
	// Headers, when set, replaces the static headers; a pointer to nil
	// or an empty map clears them.
	Headers *map[string]string
	// Auth, when set, replaces the receiver authentication; one with no
	// Type clears it.
	Auth *ReceiverAuth
	// ClientTLS, when set, replaces the client certificate and CA
	// bundle; an empty one clears them.
	ClientTLS *ClientTLS
	// Timeout, when set, replaces the request timeout (0: the server's).
	Timeout *time.Duration
	// RetrySchedule, when set, replaces the retry schedule; a pointer to
	// nil means the server's.
	RetrySchedule *[]time.Duration
	// UpdatedAt is written with any patch.
	UpdatedAt time.Time
}

// SourcePatch names the fields of a source that a change writes; nil
// fields stay as stored. A source's Name never changes.
type SourcePatch struct {
	Description *string
	Scheme      *string
	// CustomScheme, when set, replaces the custom scheme JSON; a pointer
	// to nil clears it.
	CustomScheme   *[]byte
	Secrets        *[]Secret
	Tolerance      *time.Duration
	DedupeWindow   *time.Duration
	SlackChallenge *bool
	// ZoomSecret, when set, replaces the Zoom secret token; a Secret
	// with no Value turns the handshake off.
	ZoomSecret *Secret
	// AddDestinations are new destinations of the source (endpoints of
	// its tenant, ids and times set), inserted in the same transaction.
	AddDestinations []*Endpoint
	// RemoveDestinations are ids of destinations of the source to delete
	// in the same transaction (as DeleteEndpoint does, canceling their
	// pending deliveries); ids that are not the source's are ignored.
	RemoveDestinations []string
	// UpdatedAt is written with any patch.
	UpdatedAt time.Time
}
