package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// An EventType is an entry of the event catalog: a type of event the
// installation sends, with an optional JSON Schema of its payload and an
// example.
type EventType struct {
	Name string `json:"name"`
	// Group is the name up to its last dot ("invoice" for invoice.paid).
	Group       string `json:"group"`
	Description string `json:"description"`
	// Schema and Example are JSON null when there are none.
	Schema     json.RawMessage `json:"schema"`
	Example    json.RawMessage `json:"example"`
	Deprecated bool            `json:"deprecated"`
	// Enforce says events whose payload breaks Schema are refused.
	Enforce   bool            `json:"enforce"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	Raw       json.RawMessage `json:"-"`
}

func (t *EventType) setRaw(b json.RawMessage) { t.Raw = b }

// EventTypeParams are the fields of an event type to create or change: in
// an update only the fields set change. Schema and Example set to
// json.RawMessage("null") clear them.
type EventTypeParams struct {
	// Name is required to create, and ignored by UpdateEventType.
	Name        string          `json:"name,omitempty"`
	Description *string         `json:"description,omitempty"`
	Schema      json.RawMessage `json:"schema,omitempty"`
	Example     json.RawMessage `json:"example,omitempty"`
	Deprecated  *bool           `json:"deprecated,omitempty"`
	Enforce     *bool           `json:"enforce,omitempty"`
}

// CreateEventType adds an event type to the catalog; ErrConflict if the
// name is taken, ErrValidation for a schema or example refused.
func (c *Client) CreateEventType(ctx context.Context, p *EventTypeParams) (*EventType, error) {
	return call[EventType](ctx, c, request{method: http.MethodPost, path: "/api/v1/event-types"}, p)
}

// UpdateEventType changes the fields p sets of the event type name.
func (c *Client) UpdateEventType(ctx context.Context, name string, p *EventTypeParams) (*EventType, error) {
	in := *p
	in.Name = ""
	return call[EventType](ctx, c, request{method: http.MethodPatch, path: idPath("/api/v1/event-types", name, ""), retry: true}, &in)
}

// GetEventType returns the event type name, or ErrNotFound.
func (c *Client) GetEventType(ctx context.Context, name string) (*EventType, error) {
	return call[EventType](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/event-types", name, ""), retry: true}, nil)
}

// DeleteEventType removes the event type name from the catalog.
func (c *Client) DeleteEventType(ctx context.Context, name string) error {
	_, err := c.send(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/event-types", name, ""), retry: true})
	return err
}

// EventTypeFilter picks event types and a page of them, in name order.
type EventTypeFilter struct {
	// Prefix keeps the types whose name starts with it, such as "invoice.".
	Prefix string
	Limit  int
	Cursor string
}

func (f *EventTypeFilter) request() request {
	if f == nil {
		f = &EventTypeFilter{}
	}
	q := url.Values{}
	if f.Prefix != "" {
		q.Set("prefix", f.Prefix)
	}
	return request{path: "/api/v1/event-types", query: pageQuery(q, f.Limit, f.Cursor)}
}

// ListEventTypes returns one page of the catalog.
func (c *Client) ListEventTypes(ctx context.Context, f *EventTypeFilter) (*Page[EventType], error) {
	return list[EventType](ctx, c, f.request())
}

// AllEventTypes ranges over every event type f picks, page after page.
func (c *Client) AllEventTypes(ctx context.Context, f *EventTypeFilter) iter.Seq2[*EventType, error] {
	return all[EventType](ctx, c, f.request())
}

// SendExample sends the example payload of the event type name to the
// endpoint endpointID alone, as an event of that type; the answer's
// Deliveries is 1.
func (c *Client) SendExample(ctx context.Context, name, endpointID string) (*Event, error) {
	in := struct {
		EndpointID string `json:"endpoint_id"`
	}{endpointID}
	return call[Event](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/event-types", name, "/send-example")}, in)
}

// ReplayMissingParams are the window of ReplayMissing.
type ReplayMissingParams struct {
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
	// EventTypes keeps events of these types or filters ("invoice.*").
	EventTypes []string `json:"event_types,omitempty"`
	// After continues a replay that stopped: the NextCursor it returned.
	After string `json:"after,omitempty"`
}

// A ReplayMissingResult says what one ReplayMissing call did.
type ReplayMissingResult struct {
	// Created is how many deliveries it created; Scanned how many events
	// of the window it looked at.
	Created int `json:"created"`
	Scanned int `json:"scanned"`
	// Complete is false when it stopped before the end of the window:
	// call again with After set to NextCursor.
	Complete   bool            `json:"complete"`
	NextCursor string          `json:"next_cursor,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

func (r *ReplayMissingResult) setRaw(b json.RawMessage) { r.Raw = b }

// ReplayMissing gives the endpoint the events of p's window that it has
// no delivery for (it was disabled, created later, or filtered them out).
func (c *Client) ReplayMissing(ctx context.Context, endpointID string, p *ReplayMissingParams) (*ReplayMissingResult, error) {
	return call[ReplayMissingResult](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/endpoints", endpointID, "/replay-missing")}, p)
}

// EndpointStats are an endpoint's attempts of the last hour and day, by
// window name ("hour", "day").
type EndpointStats struct {
	EndpointID string                 `json:"endpoint_id"`
	At         time.Time              `json:"at"`
	Windows    map[string]StatsWindow `json:"windows"`
	Raw        json.RawMessage        `json:"-"`
}

func (s *EndpointStats) setRaw(b json.RawMessage) { s.Raw = b }

// A StatsWindow counts the attempts since Since by outcome (Errors: no
// HTTP response), with the success rate (0 to 1) and latency percentiles.
type StatsWindow struct {
	Since       time.Time `json:"since"`
	Attempts    int       `json:"attempts"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	Errors      int       `json:"errors"`
	SuccessRate float64   `json:"success_rate"`
	P50MS       float64   `json:"latency_p50_ms"`
	P95MS       float64   `json:"latency_p95_ms"`
	P99MS       float64   `json:"latency_p99_ms"`
}

// GetEndpointStats returns the endpoint's delivery figures.
func (c *Client) GetEndpointStats(ctx context.Context, id string) (*EndpointStats, error) {
	return call[EndpointStats](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/endpoints", id, "/stats"), retry: true}, nil)
}
