package tracing_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/internal/api"
	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/internal/tracing"
)

// stack is the API and the delivery engine on a real SQLite store, traced
// by tr, behind a loopback server.
type stack struct {
	client *client.Client
}

func startStack(t *testing.T, tr *tracing.Tracing) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := delivery.New(delivery.Config{Store: st, AllowPrivateNetworks: true, Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Store: st, Notifier: eng, AllowPrivateNetworks: true, Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	k, key, err := api.NewAPIKey("test", "", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); eng.Run(ctx) }()
	srv := httptest.NewServer(a)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		st.Close()
	})
	return &stack{client: client.New(srv.URL, key)}
}

// receiver records the traceparent header of each request it gets.
type receiver struct {
	got chan string
}

func newReceiver(t *testing.T) (*receiver, string) {
	rc := &receiver{got: make(chan string, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		rc.got <- r.Header.Get("Traceparent")
	}))
	t.Cleanup(srv.Close)
	return rc, srv.URL
}

func attrs(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

// TestSpans posts an event under a caller's traceparent to an endpoint
// with trace_context set and one without, and checks the spans the SDK's
// in-memory exporter gets: the request span (the caller's child), the
// storage span (its child), one attempt span per delivery linked to the
// request span, with the attributes it must have and none it must not,
// and the traceparent header only on the endpoint that asked for it.
func TestSpans(t *testing.T) {
	t.Parallel()
	exp := &notifyExporter{InMemoryExporter: tracetest.NewInMemoryExporter(), ended: make(chan sdktrace.ReadOnlySpan, 64)}
	tr, err := tracing.New(t.Context(), &tracing.Config{Exporter: exp, Getenv: func(string) string { return "" }})
	if err != nil || tr == nil {
		t.Fatalf("New: %v, %v", tr, err)
	}
	t.Cleanup(func() { tr.Shutdown(context.Background()) })
	s := startStack(t, tr)
	ctx := t.Context()
	withTC, urlTC := newReceiver(t)
	without, urlPlain := newReceiver(t)
	epTC, err := s.client.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: urlTC, TraceContext: true, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		t.Fatal(err)
	}
	if !epTC.TraceContext {
		t.Errorf("created endpoint: trace_context false")
	}
	if _, err := s.client.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: urlPlain, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}); err != nil {
		t.Fatal(err)
	}

	const callerTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	hc := &http.Client{Transport: headerTransport{"Traceparent": "00-" + callerTrace + "-00f067aa0ba902b7-01"}}
	c := *s.client
	c.HTTPClient = hc
	ev, err := c.SendEvent(ctx, &client.SendEventParams{Type: "invoice.paid", Payload: []byte(`{"secret_amount":42}`)})
	if err != nil {
		t.Fatal(err)
	}
	sent := <-withTC.got
	if plain := <-without.got; plain != "" {
		t.Errorf("endpoint without trace_context got traceparent %q", plain)
	}
	if !strings.HasPrefix(sent, "00-") || len(sent) != 55 {
		t.Fatalf("traceparent sent %q, want a W3C one", sent)
	}

	// The attempts' spans end once their outcome is known, after the
	// receivers answered: wait for them as the exporter gets them.
	timeout := time.After(10 * time.Second)
	for n := 0; n < 2; {
		select {
		case sp := <-exp.ended:
			if sp.Name() == "delivery attempt" {
				n++
			}
		case <-timeout:
			t.Fatalf("attempt spans: %d of 2 within 10s", n)
		}
	}
	spans := exp.GetSpans()
	byName := map[string][]tracetest.SpanStub{}
	for _, sp := range spans {
		byName[sp.Name] = append(byName[sp.Name], sp)
	}
	req, stored := byName["POST /api/v1/events"], byName["store event"]
	if len(req) != 1 || len(stored) != 1 {
		t.Fatalf("request spans %d, storage spans %d; want 1 each", len(req), len(stored))
	}
	if got := req[0].SpanContext.TraceID().String(); got != callerTrace {
		t.Errorf("request span trace %s, want the caller's %s", got, callerTrace)
	}
	if stored[0].Parent.SpanID() != req[0].SpanContext.SpanID() {
		t.Errorf("storage span's parent %s, want the request span %s", stored[0].Parent.SpanID(), req[0].SpanContext.SpanID())
	}
	if a := attrs(req[0].Attributes); a["http.response.status_code"].AsInt64() != 202 {
		t.Errorf("request span attributes %v", req[0].Attributes)
	}
	for _, sp := range byName["delivery attempt"] {
		a := attrs(sp.Attributes)
		if a["hookrelay.attempt"].AsInt64() != 1 || a["http.response.status_code"].AsInt64() != 200 ||
			a["hookrelay.event.id"].AsString() != ev.ID || a["hookrelay.endpoint.id"].AsString() == "" ||
			a["hookrelay.delivery.status"].AsString() != "succeeded" || a["hookrelay.latency_ms"].AsFloat64() <= 0 {
			t.Errorf("attempt span attributes %v", sp.Attributes)
		}
		for k, v := range a {
			if s := v.Emit(); strings.Contains(s, "whsec_") || strings.Contains(s, "secret_amount") || strings.Contains(s, "127.0.0.1") {
				t.Errorf("attempt span attribute %s = %q holds a secret, the payload or the URL", k, s)
			}
		}
		if len(sp.Links) != 1 || sp.Links[0].SpanContext.SpanID() != req[0].SpanContext.SpanID() {
			t.Errorf("attempt span links %+v, want the request span", sp.Links)
		}
		if a["hookrelay.endpoint.id"].AsString() == epTC.ID {
			if want := "00-" + sp.SpanContext.TraceID().String() + "-" + sp.SpanContext.SpanID().String() + "-01"; sent != want {
				t.Errorf("traceparent sent %q, want the attempt span's %q", sent, want)
			}
		}
	}
}

// notifyExporter is the in-memory exporter that also sends each span it
// gets on ended.
type notifyExporter struct {
	*tracetest.InMemoryExporter
	ended chan sdktrace.ReadOnlySpan
}

func (e *notifyExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	err := e.InMemoryExporter.ExportSpans(ctx, spans)
	for _, sp := range spans {
		e.ended <- sp
	}
	return err
}

// headerTransport adds headers to every request.
type headerTransport map[string]string

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h {
		r.Header.Set(k, v)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestOTLPReceiver turns tracing on through the environment alone, pointed
// at an OTLP/HTTP receiver on loopback, and checks that the spans arrive
// there as OTLP protobuf once Shutdown flushes them.
func TestOTLPReceiver(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		names []string
	)
	otlp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var req collectortrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				for _, sp := range ss.Spans {
					names = append(names, sp.Name)
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Write(out)
	}))
	t.Cleanup(otlp.Close)
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": otlp.URL, "OTEL_SERVICE_NAME": "hookrelay-test"}
	tr, err := tracing.New(t.Context(), &tracing.Config{Getenv: func(k string) string { return env[k] }})
	if err != nil || tr == nil {
		t.Fatalf("New: %v, %v", tr, err)
	}
	_, end := tr.StartAttempt(t.Context(), delivery.AttemptInfo{EndpointID: "ep_1", DeliveryID: "dlv_1", Number: 1})
	end(delivery.AttemptOutcome{StatusCode: 200, Duration: time.Millisecond, Status: "succeeded"})
	if err := tr.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 1 || names[0] != "delivery attempt" {
		t.Errorf("OTLP receiver got spans %v, want [delivery attempt]", names)
	}
}

// TestOffByDefault checks which environments leave tracing off.
func TestOffByDefault(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{},
		{"OTEL_SDK_DISABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
		{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"},
	} {
		tr, err := tracing.New(t.Context(), &tracing.Config{Getenv: func(k string) string { return env[k] }})
		if tr != nil || err != nil {
			t.Errorf("%v: %v, %v; want off", env, tr, err)
		}
	}
	env := map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}
	if _, err := tracing.New(t.Context(), &tracing.Config{Getenv: func(k string) string { return env[k] }}); err == nil {
		t.Errorf("OTEL_TRACES_EXPORTER=zipkin: no error")
	}
	// A nil *Tracing traces nothing and does not panic.
	var off *tracing.Tracing
	tp, end := off.StartAttempt(t.Context(), delivery.AttemptInfo{})
	end(delivery.AttemptOutcome{})
	if tp != "" || off.Shutdown(t.Context()) != nil {
		t.Errorf("nil Tracing: traceparent %q", tp)
	}
}
