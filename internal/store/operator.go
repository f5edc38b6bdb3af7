package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// Operational webhooks tell the operator about the service itself: an
// endpoint disabled for failing, a delivery that used up its retries, an
// endpoint that succeeded again after failing. They are ordinary events
// of OperatorTenant with one delivery each, to the endpoint
// OperatorEndpointID, and the store writes them in the same transaction
// as the change they report (DisableFailingEndpoints, CompleteAttempts):
// once the change is committed, so is its webhook, and the delivery
// engine sends it as any other delivery (signed, retried, with its
// attempts on record). When there is no such endpoint, or it is
// disabled, nothing is written. Deliveries to the operator endpoint
// itself report nothing, so that a failing operator endpoint cannot feed
// itself.
const (
	// OperatorTenant is the tenant of the operator endpoint and its
	// events, reserved: no person creates endpoints or events in it
	// (rules.CheckOwnTenant).
	OperatorTenant = "hookrelay:operator"
	// OperatorEndpointID is the id of the endpoint that receives
	// operational webhooks; serve keeps it in step with --operator-url.
	OperatorEndpointID = "ep_operator"
)

// Operational event types.
const (
	OpEndpointDisabled  = "endpoint.disabled"
	OpDeliveryExhausted = "delivery.exhausted"
	OpDeliveryRecovered = "delivery.recovered"
)

// OperationalBody is the JSON payload of an operational webhook.
type OperationalBody struct {
	ID        string         `json:"id"` // the event's id
	Type      string         `json:"type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// NewOperationalEvent returns the event id of an operational webhook of
// type typ at at, for the operator endpoint: its payload is the JSON of an
// OperationalBody.
func NewOperationalEvent(id, typ string, at time.Time, data map[string]any) (*Event, error) {
	at = at.Truncate(time.Millisecond)
	b, err := json.Marshal(OperationalBody{ID: id, Type: typ, Timestamp: at.UTC(), Data: data})
	if err != nil {
		return nil, fmt.Errorf("operational event %s: %w", typ, err)
	}
	return &Event{ID: id, Tenant: OperatorTenant, Type: typ, Payload: b, CreatedAt: at}, nil
}

// Exhausted is the data of a delivery.exhausted webhook: delivery d, of
// an event of type eventType to endpoint endpointID, failed for good
// after attempts attempts, the last with status code (0 for none) and
// error.
func Exhausted(endpointID, deliveryID, eventID, eventType string, attempts, code int, errMsg string) map[string]any {
	return map[string]any{
		"endpoint_id": endpointID, "delivery_id": deliveryID, "event_id": eventID,
		"event_type": eventType, "attempts": attempts, "last_status": code, "last_error": errMsg,
	}
}

// Recovered is the data of a delivery.recovered webhook: the endpoint,
// failing since failingSince, succeeded with this delivery's attempt.
func Recovered(endpointID, deliveryID, eventID, eventType string, failingSince time.Time, attempt int) map[string]any {
	return map[string]any{
		"endpoint_id": endpointID, "delivery_id": deliveryID, "event_id": eventID,
		"event_type": eventType, "failing_since": failingSince.UTC(), "attempt": attempt,
	}
}

// Disabled is the data of an endpoint.disabled webhook.
func Disabled(e *Endpoint) map[string]any {
	var since any
	if e.FailingSince != nil {
		since = e.FailingSince.UTC()
	}
	return map[string]any{
		"endpoint_id": e.ID, "tenant": e.Tenant, "url": e.URL, "reason": e.DisabledReason, "failing_since": since,
	}
}
