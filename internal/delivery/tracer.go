package delivery

import (
	"context"
	"time"
)

// A Tracer traces delivery attempts; internal/tracing implements it with
// OpenTelemetry, so that this package does not import the SDK.
type Tracer interface {
	// StartAttempt starts the span of one attempt. It returns the W3C
	// traceparent of that span, sent to endpoints that ask for it ("" for
	// none), and the function that ends the span with the outcome.
	StartAttempt(ctx context.Context, a AttemptInfo) (traceparent string, end func(AttemptOutcome))
}

// AttemptInfo names an attempt for its span. It holds no secret, payload
// or URL.
type AttemptInfo struct {
	EndpointID, DeliveryID, EventID, EventType string
	// Number is the attempt's number, 1 for the first.
	Number int
	// EventTraceParent is the traceparent the event was accepted under,
	// for a link; "" for none.
	EventTraceParent string
}

// AttemptOutcome is how an attempt ended.
type AttemptOutcome struct {
	// StatusCode is the HTTP status; 0 when none came.
	StatusCode int
	// Duration is the request's duration.
	Duration time.Duration
	// Status is the delivery's status after the attempt: pending (to be
	// retried), succeeded or failed.
	Status string
	// Failed says the attempt did not get a 2xx.
	Failed bool
}
