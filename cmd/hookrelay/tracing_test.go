package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpReceiver is an OTLP/HTTP trace receiver on loopback that records the
// names of the spans exported to it.
type otlpReceiver struct {
	mu    sync.Mutex
	names []string
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "bad export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				o.names = append(o.names, sp.Name)
			}
		}
	}
	o.mu.Unlock()
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

// TestServeTracing runs serve with OTEL_EXPORTER_OTLP_ENDPOINT pointed at
// an OTLP/HTTP receiver the test starts, creates an endpoint with
// --trace-context through the CLI, sends an event and waits for its
// delivery: the webhook carries a traceparent, and once serve stops (which
// flushes the spans) the receiver holds the request, storage and attempt
// spans.
func TestServeTracing(t *testing.T) {
	t.Parallel()
	otlp := &otlpReceiver{}
	collector := httptest.NewServer(otlp)
	defer collector.Close()
	svc := startServeEnv(t, map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL})

	hooks := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		hooks <- r.Header.Get("Traceparent")
	}))
	defer recv.Close()
	svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--trace-context")
	svc.mustCLI(t, `{"n":1}`, "events", "send", "--type", "order.created")
	select {
	case tp := <-hooks:
		if len(tp) != 55 {
			t.Errorf("webhook traceparent %q, want a W3C traceparent", tp)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook within 20s")
	}

	svc.cancel()
	code := <-svc.done
	svc.done <- code // for startServe's cleanup
	if code != 0 {
		t.Fatalf("serve exited with %d: %s", code, svc.stderr)
	}
	otlp.mu.Lock()
	defer otlp.mu.Unlock()
	for _, want := range []string{"POST /api/v1/events", "store event", "delivery attempt"} {
		if !slices.Contains(otlp.names, want) {
			t.Errorf("OTLP receiver has no %q span: %v", want, otlp.names)
		}
	}
}
