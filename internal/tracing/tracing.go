// Package tracing is hookrelay's OpenTelemetry tracing: it builds the SDK's
// tracer provider from the standard OTEL_* environment variables and
// implements the hooks through which internal/api and internal/delivery
// report spans, so that neither imports the SDK.
//
// Tracing is off unless the environment asks for it: OTEL_TRACES_EXPORTER
// is "otlp", or it is unset and OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. OTEL_SDK_DISABLED=true and
// OTEL_TRACES_EXPORTER=none turn it off. Spans go by OTLP over HTTP
// (protobuf) to OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or to
// OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces; OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_TRACES_SAMPLER, OTEL_BSP_* and
// OTEL_RESOURCE_ATTRIBUTES are read by the SDK as it documents them;
// OTEL_SERVICE_NAME defaults to "hookrelay".
//
// # Spans
//
//   - "POST /api/v1/events" (server): the API request that accepts an
//     event, child of the caller's traceparent when it sends one.
//   - "store event" (internal): the event's storage with its fan-out,
//     child of the request span. The request span's traceparent is stored
//     with the event.
//   - "delivery attempt" (client): one HTTP attempt of a delivery, the
//     root of its own trace, linked to the span that accepted the event.
//     Attributes: hookrelay.endpoint.id, hookrelay.delivery.id,
//     hookrelay.event.id, hookrelay.attempt, http.response.status_code,
//     hookrelay.delivery.status, hookrelay.latency_ms. Never a secret, a
//     payload, a header or a URL (which may hold a token).
//
// An endpoint with trace_context set receives the attempt span's W3C
// traceparent header.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/hookrelay/hookrelay/internal/delivery"
)

// Config configures New. A nil *Config reads the process environment.
type Config struct {
	// Getenv reads the OTEL_* variables; nil: os.Getenv.
	Getenv func(string) string
	// Exporter, when set, receives the spans instead of an OTLP exporter
	// built from the environment, and tracing is on whatever the
	// environment says: for tests, with the SDK's tracetest exporters.
	Exporter sdktrace.SpanExporter
	// Version is the service.version resource attribute; "" for none.
	Version string
}

// Tracing reports hookrelay's spans. A nil *Tracing is valid and traces
// nothing; New returns nil when the environment leaves tracing off.
type Tracing struct {
	provider *sdktrace.TracerProvider
	tracer   trace.Tracer
	prop     propagation.TraceContext
}

// ErrUnsupported is returned by New for an OTEL_* setting that asks for an
// exporter or protocol hookrelay does not ship.
var ErrUnsupported = errors.New("tracing: unsupported setting")

// New returns the tracing the environment asks for, or nil (and no error)
// when it asks for none. Shutdown flushes and stops it.
func New(ctx context.Context, cfg *Config) (*Tracing, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = osGetenv
	}
	exp := cfg.Exporter
	if exp == nil {
		on, err := enabled(getenv)
		if err != nil || !on {
			return nil, err
		}
		opts, err := exporterOptions(getenv)
		if err != nil {
			return nil, err
		}
		if exp, err = otlptracehttp.New(ctx, opts...); err != nil {
			return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
		}
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", cmpOr(getenv("OTEL_SERVICE_NAME"), "hookrelay"))}
	if cfg.Version != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.Version))
	}
	res, err := resource.Merge(resource.Environment(), resource.NewSchemaless(attrs...))
	if err != nil {
		res = resource.NewSchemaless(attrs...)
	}
	var proc sdktrace.SpanProcessor = sdktrace.NewBatchSpanProcessor(exp)
	if cfg.Exporter != nil {
		proc = sdktrace.NewSimpleSpanProcessor(exp) // tests see spans as they end
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(proc), sdktrace.WithResource(res))
	return &Tracing{provider: tp, tracer: tp.Tracer("github.com/hookrelay/hookrelay")}, nil
}

// enabled reads whether the environment turns tracing on.
func enabled(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exp := strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER")); exp {
	case "none":
		return false, nil
	case "otlp":
		return true, nil
	case "":
		return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "", nil
	default:
		return false, fmt.Errorf("%w: OTEL_TRACES_EXPORTER=%q (only otlp and none are supported)", ErrUnsupported, exp)
	}
}

// exporterOptions are the OTLP/HTTP exporter's options from getenv (the
// exporter reads the process environment itself; these make the injected
// one win, for the endpoint and protocol).
func exporterOptions(getenv func(string) string) ([]otlptracehttp.Option, error) {
	proto := cmpOr(getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if proto != "" && proto != "http/protobuf" {
		return nil, fmt.Errorf("%w: OTLP protocol %q (only http/protobuf is supported)", ErrUnsupported, proto)
	}
	var opts []otlptracehttp.Option
	if u := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"); u != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(u))
	} else if u := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); u != "" {
		opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimRight(u, "/")+"/v1/traces"))
	}
	return opts, nil
}

// Shutdown exports the spans still buffered and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// StartRequest starts the server span of an API request named name, the
// child of the request's traceparent if it has one. end records the
// answer's status.
func (t *Tracing) StartRequest(ctx context.Context, r *http.Request, name string) (context.Context, func(status int)) {
	if t == nil {
		return ctx, func(int) {}
	}
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("http.route", r.Pattern)))
	return ctx, func(status int) {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// StartStorage starts the span of a write to the store, named name.
func (t *Tracing) StartStorage(ctx context.Context, name string) (context.Context, func(error)) {
	if t == nil {
		return ctx, func(error) {}
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal))
	return ctx, func(err error) {
		if err != nil {
			span.SetStatus(codes.Error, "store error") // the error text may quote data
		}
		span.End()
	}
}

// TraceParent returns the W3C traceparent of ctx's span, "" for none.
func (t *Tracing) TraceParent(ctx context.Context) string {
	if t == nil {
		return ""
	}
	c := propagation.MapCarrier{}
	t.prop.Inject(ctx, c)
	return c.Get("traceparent")
}

// StartAttempt implements delivery.Tracer: it starts the span of one
// attempt, linked to the span whose traceparent the event was stored with.
func (t *Tracing) StartAttempt(ctx context.Context, a delivery.AttemptInfo) (string, func(delivery.AttemptOutcome)) {
	if t == nil {
		return "", func(delivery.AttemptOutcome) {}
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithNewRoot(),
		trace.WithAttributes(
			attribute.String("hookrelay.endpoint.id", a.EndpointID),
			attribute.String("hookrelay.delivery.id", a.DeliveryID),
			attribute.String("hookrelay.event.id", a.EventID),
			attribute.String("hookrelay.event.type", a.EventType),
			attribute.Int("hookrelay.attempt", a.Number),
		),
	}
	if a.EventTraceParent != "" {
		linked := t.prop.Extract(context.Background(), propagation.MapCarrier{"traceparent": a.EventTraceParent})
		if sc := trace.SpanContextFromContext(linked); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	ctx, span := t.tracer.Start(ctx, "delivery attempt", opts...)
	return t.TraceParent(ctx), func(o delivery.AttemptOutcome) {
		span.SetAttributes(
			attribute.String("hookrelay.delivery.status", o.Status),
			attribute.Float64("hookrelay.latency_ms", float64(o.Duration)/float64(time.Millisecond)),
		)
		if o.StatusCode != 0 {
			span.SetAttributes(attribute.Int("http.response.status_code", o.StatusCode))
		}
		if o.Failed {
			span.SetStatus(codes.Error, "attempt failed")
		}
		span.End()
	}
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
