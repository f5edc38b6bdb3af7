package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"time"
)

// A Source is an inbound webhook source: the gateway verifies what a
// vendor posts to its IngestPath and forwards it to its destinations.
type Source struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// IngestPath is where the vendor posts, /in/<name>, relative to the
	// service's root.
	IngestPath string `json:"ingest_path"`
	// Tenant is the tenant of its destinations and events.
	Tenant       string          `json:"tenant"`
	EventType    string          `json:"event_type"`
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	// Secrets lists the verifying secrets' times, without their values.
	Secrets             []Secret `json:"secrets"`
	ToleranceSeconds    int64    `json:"tolerance_seconds"`
	DedupeWindowSeconds int64    `json:"dedupe_window_seconds"`
	SlackChallenge      bool     `json:"slack_challenge"`
	ZoomValidation      bool     `json:"zoom_validation"`
	// Destinations are the endpoints it forwards to (absent from lists).
	Destinations []*Endpoint `json:"destinations,omitempty"`
	// Secret is the verifying secret generated at creation, shown once.
	Secret    string          `json:"secret,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Raw       json.RawMessage `json:"-"`
}

func (s *Source) setRaw(b json.RawMessage) { s.Raw = b }

// DestinationParams describe a destination of a source: an endpoint of
// the source's tenant. Scheme "" or "none" forwards unsigned; another
// scheme re-signs with Secret (generated when "").
type DestinationParams struct {
	URL          string          `json:"url"`
	Scheme       string          `json:"scheme,omitempty"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	Secret       string          `json:"secret,omitempty"`
	Description  string          `json:"description,omitempty"`
	Disabled     bool            `json:"disabled,omitempty"`
	FIFO         bool            `json:"fifo,omitempty"`
	RateLimit    float64         `json:"rate_limit,omitempty"`
	TraceContext bool            `json:"trace_context,omitempty"`
}

// CreateSourceParams are the fields of a new source; Name and a scheme
// are required.
type CreateSourceParams struct {
	// Name is the ingest path /in/<name>: 1 to 63 lowercase letters,
	// digits and hyphens.
	Name         string          `json:"name"`
	Description  string          `json:"description,omitempty"`
	Scheme       string          `json:"scheme,omitempty"`
	CustomScheme json.RawMessage `json:"custom_scheme,omitempty"`
	// Secrets verify requests, newest first; none: one is generated.
	Secrets []string `json:"secrets,omitempty"`
	// ToleranceSeconds and DedupeWindowSeconds: nil for the defaults.
	ToleranceSeconds    *int64              `json:"tolerance_seconds,omitempty"`
	DedupeWindowSeconds *int64              `json:"dedupe_window_seconds,omitempty"`
	SlackChallenge      bool                `json:"slack_challenge,omitempty"`
	ZoomSecret          string              `json:"zoom_secret,omitempty"`
	Destinations        []DestinationParams `json:"destinations,omitempty"`
}

// CreateSource creates a source and its destinations. A name taken
// answers ErrConflict.
func (c *Client) CreateSource(ctx context.Context, p *CreateSourceParams) (*Source, error) {
	return call[Source](ctx, c, request{method: http.MethodPost, path: "/api/v1/sources"}, p)
}

// ListSources returns one page of sources.
func (c *Client) ListSources(ctx context.Context, o *ListOptions) (*Page[Source], error) {
	return list[Source](ctx, c, sourcesRequest(o))
}

// AllSources returns every source, following the pages.
func (c *Client) AllSources(ctx context.Context, o *ListOptions) iter.Seq2[*Source, error] {
	return all[Source](ctx, c, sourcesRequest(o))
}

func sourcesRequest(o *ListOptions) request {
	if o == nil {
		o = &ListOptions{}
	}
	return request{path: "/api/v1/sources", query: pageQuery(nil, o.Limit, o.Cursor)}
}

// GetSource returns the source with this id ("src_...") or name, with its
// destinations.
func (c *Client) GetSource(ctx context.Context, idOrName string) (*Source, error) {
	return call[Source](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/sources", idOrName, ""), retry: true}, nil)
}

// UpdateSourceParams are the changes of an update: only the fields that
// are not nil are sent. Secrets replaces every secret (list the old ones
// after the new one to keep accepting them); ZoomSecret new("") turns the
// Zoom handshake off. The name cannot change; destinations are endpoints.
type UpdateSourceParams struct {
	Description         *string         `json:"description,omitempty"`
	Scheme              *string         `json:"scheme,omitempty"`
	CustomScheme        json.RawMessage `json:"custom_scheme,omitempty"`
	Secrets             *[]string       `json:"secrets,omitempty"`
	ToleranceSeconds    *int64          `json:"tolerance_seconds,omitempty"`
	DedupeWindowSeconds *int64          `json:"dedupe_window_seconds,omitempty"`
	SlackChallenge      *bool           `json:"slack_challenge,omitempty"`
	ZoomSecret          *string         `json:"zoom_secret,omitempty"`
}

// UpdateSource changes the fields p sets and returns the source as it now
// is. It is sent once.
func (c *Client) UpdateSource(ctx context.Context, idOrName string, p *UpdateSourceParams) (*Source, error) {
	if p == nil {
		p = &UpdateSourceParams{}
	}
	return call[Source](ctx, c, request{method: http.MethodPatch, path: idPath("/api/v1/sources", idOrName, "")}, p)
}

// DeleteSource deletes the source, its destinations (canceling their
// pending deliveries) and its rejections; its events stay.
func (c *Client) DeleteSource(ctx context.Context, idOrName string) error {
	_, err := c.send(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/sources", idOrName, ""), retry: true})
	return err
}

// AddDestination adds a destination to the source and returns it as the
// endpoint it is (with its secret, if it re-signs, shown once).
func (c *Client) AddDestination(ctx context.Context, source string, p *DestinationParams) (*Endpoint, error) {
	return call[Endpoint](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/sources", source, "/destinations")}, p)
}

// A Rejection is a request the gateway refused for a source.
type Rejection struct {
	ID         string            `json:"id"`
	SourceID   string            `json:"source_id"`
	ReceivedAt time.Time         `json:"received_at"`
	Reason     string            `json:"reason"`
	Detail     string            `json:"detail"`
	RemoteAddr string            `json:"remote_addr"`
	Headers    map[string]string `json:"headers"`
	// Body is the body kept, when it is UTF-8; BodyBase64 its base64
	// otherwise (see BodyBytes).
	Body          *string         `json:"body,omitempty"`
	BodyBase64    *string         `json:"body_base64,omitempty"`
	BodySize      int64           `json:"body_size"`
	BodyTruncated bool            `json:"body_truncated"`
	Raw           json.RawMessage `json:"-"`
}

func (r *Rejection) setRaw(b json.RawMessage) { r.Raw = b }

// BodyBytes returns the body kept of the refused request.
func (r *Rejection) BodyBytes() ([]byte, error) {
	switch {
	case r.Body != nil:
		return []byte(*r.Body), nil
	case r.BodyBase64 != nil:
		b, err := base64.StdEncoding.DecodeString(*r.BodyBase64)
		if err != nil {
			return nil, fmt.Errorf("rejection %s: body: %w", r.ID, err)
		}
		return b, nil
	}
	return nil, nil
}

// ListRejections returns one page of the requests the source refused,
// newest first.
func (c *Client) ListRejections(ctx context.Context, source string, o *ListOptions) (*Page[Rejection], error) {
	return list[Rejection](ctx, c, rejectionsRequest(source, o))
}

// AllRejections returns every rejection of the source, following the pages.
func (c *Client) AllRejections(ctx context.Context, source string, o *ListOptions) iter.Seq2[*Rejection, error] {
	return all[Rejection](ctx, c, rejectionsRequest(source, o))
}

func rejectionsRequest(source string, o *ListOptions) request {
	if o == nil {
		o = &ListOptions{}
	}
	return request{path: idPath("/api/v1/sources", source, "/rejections"), query: pageQuery(nil, o.Limit, o.Cursor)}
}
