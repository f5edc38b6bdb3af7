package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// MaxBatchEvents is how many events the server takes in one batch request;
// SendEvents sends more in several.
const MaxBatchEvents = 1000

// An EventResult is what the server did with one event of SendEvents:
// Event, with Status 202, is the event stored (or, with Event.Duplicate,
// the earlier event of its idempotency key); else Err says why it was
// refused, with the status POST /api/v1/events would have answered.
type EventResult struct {
	Status int
	Event  *Event
	Err    *Error
	// Raw is the result's JSON as the server sent it.
	Raw json.RawMessage
}

// SendEvents posts events in batches of up to MaxBatchEvents, one
// request and one store transaction each, and returns one result per
// event, in order. A bad event loses only itself: its result has Err,
// and the others are stored. An event without an idempotency key gets a
// generated one, so that each request is retried like a GET. The error
// is that of a request refused whole (a bad request, the server's
// limits, a store failure); the results of the batches sent before it
// are returned with it.
func (c *Client) SendEvents(ctx context.Context, events []*SendEventParams) ([]EventResult, error) {
	out := make([]EventResult, 0, len(events))
	for start := 0; start < len(events); start += MaxBatchEvents {
		chunk := events[start:min(start+MaxBatchEvents, len(events))]
		res, err := c.sendBatch(ctx, chunk)
		if err != nil {
			return out, fmt.Errorf("events %d to %d: %w", start, start+len(chunk)-1, err)
		}
		out = append(out, res...)
	}
	return out, nil
}

func (c *Client) sendBatch(ctx context.Context, events []*SendEventParams) ([]EventResult, error) {
	body := []byte(`{"events":[`)
	for i, p := range events {
		key := p.IdempotencyKey
		if key == "" {
			key = NewIdempotencyKey()
		}
		b, err := eventBody(p.Type, p.Tenant, key, p.Payload)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, b...)
	}
	body = append(body, "]}"...)
	r := request{method: http.MethodPost, path: "/api/v1/events/batch", body: body, retry: true}
	b, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Results []json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b, &resp); err != nil {
		return nil, fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	if len(resp.Results) != len(events) {
		return nil, fmt.Errorf("%s %s: %d results for %d events", r.method, r.path, len(resp.Results), len(events))
	}
	out := make([]EventResult, len(events))
	for i, raw := range resp.Results {
		var head struct {
			Status int          `json:"status"`
			Error  *errorObject `json:"error"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			return nil, fmt.Errorf("%s %s: decode result %d: %w", r.method, r.path, i, err)
		}
		out[i].Status, out[i].Raw = head.Status, raw
		if he := head.Error; he != nil {
			out[i].Err = &Error{StatusCode: head.Status}
			he.fill(out[i].Err)
			continue
		}
		ev := &Event{}
		if err := json.Unmarshal(raw, ev); err != nil {
			return nil, fmt.Errorf("%s %s: decode result %d: %w", r.method, r.path, i, err)
		}
		ev.Raw = raw
		out[i].Event = ev
	}
	return out, nil
}
