package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// An Endpoint is a URL that receives signed webhooks.
type Endpoint struct {
	ID     string `json:"id"`
	Tenant string `json:"tenant"`
	URL    string `json:"url"`
	// Description is free text for people.
	Description string `json:"description"`
	// Scheme names the signature scheme: standard, github, stripe, ...,
	// custom (then CustomScheme describes it), or none for a source's
	// destination that forwards unsigned.
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	// EventTypes filters the events delivered ("invoice.*" matches a
	// prefix); empty: every type.
	EventTypes []string `json:"event_types"`
	// Filter is the payload filter, as written; JSON null when none.
	Filter   json.RawMessage `json:"filter,omitempty"`
	Disabled bool            `json:"disabled"`
	// DisabledReason is "manual", or why the service disabled it.
	DisabledReason string  `json:"disabled_reason,omitempty"`
	FIFO           bool    `json:"fifo"`
	RateLimit      float64 `json:"rate_limit"`
	// TraceContext says deliveries carry the W3C traceparent header of
	// the delivery attempt's trace.
	TraceContext bool `json:"trace_context"`
	// FailingSince is when its deliveries began to fail, if they do.
	FailingSince *time.Time `json:"failing_since,omitempty"`
	// Secrets lists the signing secrets' times, newest first, without
	// their values (RevealSecrets has those).
	Secrets []Secret `json:"secrets"`
	// Secret is the signing secret, set only in the answer that created
	// the endpoint: it is shown once.
	Secret    string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Headers, Auth and ClientTLS are the delivery settings, their
	// secrets masked ("****" and at most the last 4 characters).
	Headers   map[string]string `json:"headers,omitempty"`
	Auth      *ReceiverAuth     `json:"auth,omitempty"`
	ClientTLS *ClientTLS        `json:"client_tls,omitempty"`
	// TimeoutSeconds is 0 for the server's request timeout.
	TimeoutSeconds float64 `json:"timeout_seconds"`
	// RetryScheduleSeconds is nil for the server's retry schedule.
	RetryScheduleSeconds []float64 `json:"retry_schedule_seconds"`
	// Raw is the endpoint's JSON as the server sent it.
	Raw json.RawMessage `json:"-"`
}

func (e *Endpoint) setRaw(b json.RawMessage) { e.Raw = b }

// A Secret describes one signing secret. Value is set only by
// RevealSecrets.
type Secret struct {
	Value     string    `json:"secret,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when a rotated-out secret stops signing; nil for the
	// current one.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// CreateEndpointParams are the fields of a new endpoint; only URL is
// required, and empty fields take the server's defaults.
type CreateEndpointParams struct {
	URL string `json:"url"`
	// Secret is the signing secret; "": generated for the scheme.
	Secret string `json:"secret,omitempty"`
	// Scheme is the signature scheme; "": standard, or custom when
	// CustomScheme is set.
	Scheme       string          `json:"scheme,omitempty"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	EventTypes   []string        `json:"event_types,omitempty"`
	// Filter is a payload filter: only events whose payload matches it
	// are delivered, such as {"amount": {"$gte": 1000}} (see the API's
	// PayloadFilter).
	Filter      json.RawMessage `json:"filter,omitempty"`
	Tenant      string          `json:"tenant,omitempty"`
	Description string          `json:"description,omitempty"`
	Disabled    bool            `json:"disabled,omitempty"`
	FIFO        bool            `json:"fifo,omitempty"`
	RateLimit   float64         `json:"rate_limit,omitempty"`
	// TraceContext asks for the W3C traceparent header on deliveries.
	TraceContext bool `json:"trace_context,omitempty"`
	// Headers are static headers sent with every delivery.
	Headers   map[string]string `json:"headers,omitempty"`
	Auth      *ReceiverAuth     `json:"auth,omitempty"`
	ClientTLS *ClientTLS        `json:"client_tls,omitempty"`
	// TimeoutSeconds is the endpoint's request timeout; 0: the server's.
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// RetryScheduleSeconds are the delays after attempts 1, 2, ...; nil:
	// the server's schedule, new([]float64{}): no retries.
	RetryScheduleSeconds *[]float64 `json:"retry_schedule_seconds,omitempty"`
}

// ReceiverAuth is how deliveries authenticate to an endpoint's receiver:
// Type "basic" (Username, Password), "bearer" (Token) or "oauth2" (a
// client-credentials token from TokenURL). In an Endpoint the secrets are
// masked; in an update, a zero ReceiverAuth removes it.
type ReceiverAuth struct {
	Type         string   `json:"type,omitempty"`
	Username     string   `json:"username,omitempty"`
	Password     string   `json:"password,omitempty"`
	Token        string   `json:"token,omitempty"`
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
}

// ClientTLS is an endpoint's client certificate and key for mutual TLS
// and the CA bundle it trusts, PEM. In an Endpoint the key is masked; in
// an update, a zero ClientTLS removes them.
type ClientTLS struct {
	CertPEM string `json:"cert_pem,omitempty"`
	KeyPEM  string `json:"key_pem,omitempty"`
	CAPEM   string `json:"ca_pem,omitempty"`
}

// CreateEndpoint creates an endpoint. Its answer is the only one holding
// the secret (in Secret). A refused field is an ErrValidation.
func (c *Client) CreateEndpoint(ctx context.Context, p *CreateEndpointParams) (*Endpoint, error) {
	return call[Endpoint](ctx, c, request{method: http.MethodPost, path: "/api/v1/endpoints"}, p)
}

// EndpointFilter picks endpoints and a page of them. A nil filter is the
// first page of all.
type EndpointFilter struct {
	// Tenant, when not nil, keeps only that tenant's endpoints (new("")
	// for the default tenant's).
	Tenant *string
	Limit  int
	Cursor string
}

func (f *EndpointFilter) request() request {
	if f == nil {
		f = &EndpointFilter{}
	}
	q := url.Values{}
	if f.Tenant != nil {
		q.Set("tenant", *f.Tenant)
	}
	return request{path: "/api/v1/endpoints", query: pageQuery(q, f.Limit, f.Cursor)}
}

// ListEndpoints returns one page of endpoints, newest first.
func (c *Client) ListEndpoints(ctx context.Context, f *EndpointFilter) (*Page[Endpoint], error) {
	return list[Endpoint](ctx, c, f.request())
}

// AllEndpoints returns every endpoint f picks, following the pages from
// f.Cursor on. The sequence stops after the first error it yields.
func (c *Client) AllEndpoints(ctx context.Context, f *EndpointFilter) iter.Seq2[*Endpoint, error] {
	return all[Endpoint](ctx, c, f.request())
}

// GetEndpoint returns the endpoint with this id, or an ErrNotFound.
func (c *Client) GetEndpoint(ctx context.Context, id string) (*Endpoint, error) {
	return call[Endpoint](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/endpoints", id, ""), retry: true}, nil)
}

// UpdateEndpointParams are the changes of an update: only the fields that
// are not nil are sent, and only they change. Secret replaces every secret
// at once (RotateSecret keeps the old one signing for a while); the
// tenant cannot change.
type UpdateEndpointParams struct {
	URL          *string         `json:"url,omitempty"`
	Secret       *string         `json:"secret,omitempty"`
	Scheme       *string         `json:"scheme,omitempty"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	// EventTypes replaces the filter; new([]string{}) delivers every type.
	EventTypes *[]string `json:"event_types,omitempty"`
	// Filter replaces the payload filter; json.RawMessage("null") removes
	// it.
	Filter      json.RawMessage `json:"filter,omitempty"`
	Description *string         `json:"description,omitempty"`
	Disabled    *bool           `json:"disabled,omitempty"`
	FIFO        *bool           `json:"fifo,omitempty"`
	RateLimit   *float64        `json:"rate_limit,omitempty"`
	// TraceContext turns the traceparent header of deliveries on or off.
	TraceContext *bool `json:"trace_context,omitempty"`
	// Headers replaces every static header; new(map[string]string{})
	// removes them.
	Headers        *map[string]string `json:"headers,omitempty"`
	Auth           *ReceiverAuth      `json:"auth,omitempty"`
	ClientTLS      *ClientTLS         `json:"client_tls,omitempty"`
	TimeoutSeconds *float64           `json:"timeout_seconds,omitempty"`
	// RetryScheduleSeconds replaces the retry schedule; a pointer to a nil
	// slice goes back to the server's.
	RetryScheduleSeconds *[]float64 `json:"retry_schedule_seconds,omitempty"`
}

// UpdateEndpoint changes the fields p sets and returns the endpoint as it
// now is. It is not retried: PATCH is sent once.
func (c *Client) UpdateEndpoint(ctx context.Context, id string, p *UpdateEndpointParams) (*Endpoint, error) {
	if p == nil {
		p = &UpdateEndpointParams{}
	}
	return call[Endpoint](ctx, c, request{method: http.MethodPatch, path: idPath("/api/v1/endpoints", id, "")}, p)
}

// DeleteEndpoint deletes the endpoint, canceling its pending deliveries.
func (c *Client) DeleteEndpoint(ctx context.Context, id string) error {
	_, err := c.send(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/endpoints", id, ""), retry: true})
	return err
}

// RotateSecretParams say how to rotate; nil or zero: a generated secret
// and the server's overlap (24 h by default).
type RotateSecretParams struct {
	// Secret is the new secret; "": generated for the scheme.
	Secret string `json:"secret,omitempty"`
	// OverlapSeconds is how long the current secrets keep signing beside
	// the new one; new(int64(0)) stops them now; nil: the server's
	// default.
	OverlapSeconds *int64 `json:"overlap_seconds,omitempty"`
}

// RotateSecret gives the endpoint a new secret; the old ones keep signing
// for the overlap. An endpoint that forwards unsigned answers ErrConflict.
func (c *Client) RotateSecret(ctx context.Context, id string, p *RotateSecretParams) (*Endpoint, error) {
	var in any
	if p != nil {
		in = p
	}
	return call[Endpoint](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/endpoints", id, "/rotate-secret")}, in)
}

// RevealedSecrets are an endpoint's secrets that still sign, with their
// values, newest first.
type RevealedSecrets struct {
	ID      string          `json:"id"`
	Secrets []Secret        `json:"secrets"`
	Raw     json.RawMessage `json:"-"`
}

func (r *RevealedSecrets) setRaw(b json.RawMessage) { r.Raw = b }

// RevealSecrets returns the endpoint's secrets that still sign.
func (c *Client) RevealSecrets(ctx context.Context, id string) (*RevealedSecrets, error) {
	return call[RevealedSecrets](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/endpoints", id, "/secret/reveal")}, nil)
}

// Replayed is the answer to ReplayFailed.
type Replayed struct {
	// Replayed is how many failed deliveries were made due again.
	Replayed int `json:"replayed"`
	// Scanned is how many failed (or canceled) deliveries of the window
	// were looked at.
	Scanned int `json:"scanned"`
	// Complete is false when the call stopped before the end of the
	// window: call again with After set to NextCursor.
	Complete   bool            `json:"complete"`
	NextCursor string          `json:"next_cursor,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

func (r *Replayed) setRaw(b json.RawMessage) { r.Raw = b }

// ReplayFailed makes the endpoint's failed deliveries created at or after
// since due again.
func (c *Client) ReplayFailed(ctx context.Context, endpointID string, since time.Time) (*Replayed, error) {
	return c.ReplayFailedWindow(ctx, endpointID, &ReplayFailedParams{Since: since})
}

// ReplayFailedParams narrow ReplayFailedWindow.
type ReplayFailedParams struct {
	// Since and Until bound the deliveries' creation: [Since, Until).
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
	// EventTypes keeps deliveries of these types or filters ("invoice.*").
	EventTypes []string `json:"event_types,omitempty"`
	// Status: "failed" and/or "canceled"; default failed.
	Status []string `json:"status,omitempty"`
	// After continues a call that stopped: its NextCursor.
	After string `json:"after,omitempty"`
}

// ReplayFailedWindow makes the endpoint's failed (or canceled) deliveries
// of p's window and types due again, synchronously; for a large window
// use CreateReplay.
func (c *Client) ReplayFailedWindow(ctx context.Context, endpointID string, p *ReplayFailedParams) (*Replayed, error) {
	return call[Replayed](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/endpoints", endpointID, "/replay")}, p)
}

// TestFilter reports whether payload, a JSON value, matches the payload
// filter of endpoint id, or filter instead when it is not nil (to try a
// filter before saving it). An endpoint without a filter matches every
// JSON payload. An invalid filter or payload is an ErrValidation naming
// the JSON path of the fault.
func (c *Client) TestFilter(ctx context.Context, id string, payload, filter json.RawMessage) (bool, error) {
	body := struct {
		Payload json.RawMessage `json:"payload"`
		Filter  json.RawMessage `json:"filter,omitempty"`
	}{payload, filter}
	out, err := call[filterResult](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/endpoints", id, "/test-filter"), retry: true}, &body)
	if err != nil {
		return false, err
	}
	return out.Matches, nil
}

// filterResult is the answer of test-filter.
type filterResult struct {
	Matches bool `json:"matches"`
}

func (r *filterResult) setRaw(json.RawMessage) {}
