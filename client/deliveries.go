package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The statuses of a delivery.
const (
	StatusPending   DeliveryStatus = "pending"
	StatusSucceeded DeliveryStatus = "succeeded"
	StatusFailed    DeliveryStatus = "failed"
	StatusCanceled  DeliveryStatus = "canceled"
)

// A Delivery is one event's way to one endpoint.
type Delivery struct {
	ID           string         `json:"id"`
	EventID      string         `json:"event_id"`
	EndpointID   string         `json:"endpoint_id"`
	Tenant       string         `json:"tenant"`
	EventType    string         `json:"event_type"`
	Status       DeliveryStatus `json:"status"`
	AttemptCount int            `json:"attempt_count"`
	// NextAttemptAt is when a pending delivery is next attempted.
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	// LastStatus is the HTTP status of the latest attempt; 0 if none
	// answered.
	LastStatus  int        `json:"last_status,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	FIFO        bool       `json:"fifo"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	CompletedAt *time.Time `json:"completed_at,omitempty"`
	// LastAttempt summarizes the latest attempt, in lists.
	LastAttempt *Attempt `json:"last_attempt,omitempty"`
	// Attempts lists every attempt, in the answer of GetDelivery.
	Attempts []Attempt       `json:"attempts,omitempty"`
	Raw      json.RawMessage `json:"-"`
}

func (d *Delivery) setRaw(b json.RawMessage) { d.Raw = b }

// An Attempt is one HTTP request of a delivery and its outcome.
type Attempt struct {
	ID         string    `json:"id"`
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	URL        string    `json:"url"`
	// RequestHeaders are the headers sent, signatures included; absent
	// from lists.
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	StatusCode     int               `json:"status_code,omitempty"`
	Error          string            `json:"error,omitempty"`
	ResponseBody   string            `json:"response_body"`
	// Trigger says what started it: schedule, retry, replay, ...
	Trigger string `json:"trigger"`
}

// DeliveryFilter picks deliveries and a page of them; zero fields do not
// filter. A nil filter is the first page of all.
type DeliveryFilter struct {
	EndpointID string
	EventID    string
	Status     DeliveryStatus
	EventType  string
	// Since and Until bound the creation time.
	Since, Until time.Time
	// Tenant, when not nil, keeps only that tenant's deliveries.
	Tenant *string
	// Payload keeps the deliveries of events whose payload holds each
	// value, as EventFilter.Payload.
	Payload map[string]string
	Limit   int
	Cursor  string
}

func (f *DeliveryFilter) request() request {
	if f == nil {
		f = &DeliveryFilter{}
	}
	q := url.Values{}
	for k, v := range map[string]string{"endpoint_id": f.EndpointID, "event_id": f.EventID, "status": string(f.Status), "event_type": f.EventType} {
		if v != "" {
			q.Set(k, v)
		}
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
	for path, v := range f.Payload {
		q.Add("payload."+path, v)
	}
	return request{path: "/api/v1/deliveries", query: pageQuery(q, f.Limit, f.Cursor)}
}

// ListDeliveries returns one page of deliveries, newest first.
func (c *Client) ListDeliveries(ctx context.Context, f *DeliveryFilter) (*Page[Delivery], error) {
	return list[Delivery](ctx, c, f.request())
}

// AllDeliveries returns every delivery f picks, following the pages.
func (c *Client) AllDeliveries(ctx context.Context, f *DeliveryFilter) iter.Seq2[*Delivery, error] {
	return all[Delivery](ctx, c, f.request())
}

// GetDelivery returns the delivery with this id and all its attempts.
func (c *Client) GetDelivery(ctx context.Context, id string) (*Delivery, error) {
	return call[Delivery](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/deliveries", id, ""), retry: true}, nil)
}

// ListAttempts returns the attempts of the delivery, oldest first.
func (c *Client) ListAttempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	d, err := c.GetDelivery(ctx, deliveryID)
	if err != nil {
		return nil, err
	}
	return d.Attempts, nil
}

// RetryDelivery makes the delivery due now, whatever its status. One in
// flight, canceled, or of a deleted endpoint answers ErrConflict.
func (c *Client) RetryDelivery(ctx context.Context, id string) (*Delivery, error) {
	return call[Delivery](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/deliveries", id, "/retry")}, nil)
}
