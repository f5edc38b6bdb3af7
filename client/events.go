package client

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// An Event is a message sent to the endpoints that subscribe to its type.
type Event struct {
	ID             string    `json:"id"`
	Tenant         string    `json:"tenant"`
	Type           string    `json:"type"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// Deliveries is how many deliveries the event created; set only in
	// the answer that created it.
	Deliveries *int `json:"deliveries,omitempty"`
	// Duplicate says the post repeated an idempotency key within the
	// server's window, and this is the earlier event: nothing was
	// created. After a retry this may be the call's own first attempt.
	Duplicate bool `json:"duplicate,omitempty"`
	// ContentType is an inbound event's media type.
	ContentType string `json:"content_type,omitempty"`
	// PayloadEncoding is "" when Payload is the event's JSON, "text" when
	// it is a JSON string holding the text of a non-JSON body, "base64"
	// when it is a string holding its base64 (see PayloadBytes).
	PayloadEncoding string `json:"payload_encoding,omitempty"`
	// Payload is the payload byte for byte as it was received; set by
	// GetEvent unless the event is erased.
	Payload json.RawMessage `json:"payload,omitempty"`
	// ErasedAt is when the payload was erased (EraseEvent, or the
	// tenant's payload retention); nil while it is kept.
	ErasedAt *time.Time      `json:"erased_at,omitempty"`
	Raw      json.RawMessage `json:"-"`
}

func (e *Event) setRaw(b json.RawMessage) { e.Raw = b }

// PayloadBytes returns the body the event carries: Payload itself for a
// JSON payload, else the text or bytes PayloadEncoding says it encodes.
func (e *Event) PayloadBytes() ([]byte, error) {
	if e.PayloadEncoding == "" {
		return e.Payload, nil
	}
	var s string
	if err := json.Unmarshal(e.Payload, &s); err != nil {
		return nil, fmt.Errorf("event %s: payload: %w", e.ID, err)
	}
	switch e.PayloadEncoding {
	case "text":
		return []byte(s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("event %s: payload: %w", e.ID, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("event %s: unknown payload encoding %q", e.ID, e.PayloadEncoding)
}

// SendEventParams are an event to send.
type SendEventParams struct {
	// Type is the event type, such as "invoice.paid". Required.
	Type string
	// Tenant picks the tenant whose endpoints receive it; "": the default
	// tenant.
	Tenant string
	// IdempotencyKey makes a repeat of the post within the server's window
	// (24 h by default) create nothing. "": SendEvent generates one, so
	// that its own retries are safe.
	IdempotencyKey string
	// Payload is any JSON value; it is sent, stored and delivered byte for
	// byte (it is not re-encoded). Required.
	Payload json.RawMessage
}

// NewIdempotencyKey returns a random idempotency key, as SendEvent makes
// when its caller gives none.
func NewIdempotencyKey() string {
	return "idem_" + rand.Text()
}

// SendEvent posts an event and returns it once the server has stored it
// with its deliveries. The post always carries an idempotency key and is
// therefore retried like a GET: a retry of a post that did arrive answers
// the event it created, with Duplicate set.
func (c *Client) SendEvent(ctx context.Context, p *SendEventParams) (*Event, error) {
	key := p.IdempotencyKey
	if key == "" {
		key = NewIdempotencyKey()
	}
	body, err := eventBody(p.Type, p.Tenant, key, p.Payload)
	if err != nil {
		return nil, err
	}
	r := request{method: http.MethodPost, path: "/api/v1/events", body: body, retry: true}
	b, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	return decode[Event](r, b)
}

// eventBody returns the body of POST /api/v1/events with payload spliced in
// as it is: encoding/json would compact it.
func eventBody(typ, tenant, key string, payload []byte) ([]byte, error) {
	head, err := json.Marshal(struct {
		Type           string `json:"type"`
		Tenant         string `json:"tenant,omitempty"`
		IdempotencyKey string `json:"idempotency_key,omitempty"`
	}{typ, tenant, key})
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	if len(payload) == 0 {
		return head, nil // without a payload: the server says it is required
	}
	body := make([]byte, 0, len(head)+len(payload)+12)
	body = append(body, head[:len(head)-1]...)
	body = append(body, `,"payload":`...)
	body = append(body, payload...)
	return append(body, '}'), nil
}

// EraseEvent erases the event's payload and headers and its attempts'
// request headers and response bodies, keeping the metadata, and cancels
// its pending deliveries (for a request to delete personal data). It
// returns the event as erased; erasing it again changes nothing.
func (c *Client) EraseEvent(ctx context.Context, id string) (*Event, error) {
	return call[Event](ctx, c, request{method: http.MethodDelete, path: idPath("/api/v1/events", id, "/payload"), retry: true}, nil)
}

// GetEvent returns the event with this id, with its payload.
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	return call[Event](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/events", id, ""), retry: true}, nil)
}

// EventFilter picks events and a page of them; zero fields do not filter.
// A nil filter is the first page of all.
type EventFilter struct {
	// Type is an event type, or a prefix ending in ".*" ("invoice.*").
	Type string
	// EndpointID keeps events with a delivery to this endpoint, Status
	// those with a delivery in this status (to EndpointID if set).
	EndpointID string
	Status     DeliveryStatus
	// Payload keeps events whose payload holds the value at each dotted
	// path ({"order.id": "123"}): a number compares by exact value, a
	// string in double quotes (`"123"`) is a string, true, false and null
	// are themselves, any other text is a string. The server must index
	// each path (serve --search-field), or the call fails with a 400.
	Payload map[string]string
	// Since and Until bound the creation time.
	Since, Until time.Time
	// Tenant, when not nil, keeps only that tenant's events.
	Tenant *string
	Limit  int
	Cursor string
}

func (f *EventFilter) request() request {
	if f == nil {
		f = &EventFilter{}
	}
	q := url.Values{}
	for k, v := range map[string]string{"type": f.Type, "endpoint_id": f.EndpointID, "status": string(f.Status)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	for path, v := range f.Payload {
		q.Add("payload."+path, v)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.Format(time.RFC3339Nano))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.Format(time.RFC3339Nano))
	}
	if f.Tenant != nil {
		q.Set("tenant", *f.Tenant)
	}
	return request{path: "/api/v1/events", query: pageQuery(q, f.Limit, f.Cursor)}
}

// ListEvents returns one page of the events f picks, newest first,
// without their payloads (GetEvent has them).
func (c *Client) ListEvents(ctx context.Context, f *EventFilter) (*Page[Event], error) {
	return list[Event](ctx, c, f.request())
}

// AllEvents returns every event f picks, following the pages.
func (c *Client) AllEvents(ctx context.Context, f *EventFilter) iter.Seq2[*Event, error] {
	return all[Event](ctx, c, f.request())
}
