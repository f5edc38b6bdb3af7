package main

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var metricsLine = regexp.MustCompile(`metrics on (http://\S+)`)

// get answers the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestServeMetricsAddr: with --metrics-addr, /metrics (which lists source
// names, unauthenticated) is served on that listener only, and the public
// one answers 404.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	svc := startServe(t, "--metrics-addr", "127.0.0.1:0")
	m := metricsLine.FindStringSubmatch(svc.stderr.String())
	if m == nil {
		t.Fatalf("serve did not say where the metrics are:\n%s", svc.stderr)
	}
	if code, body := get(t, m[1]); code != 200 || !strings.Contains(body, "hookrelay_") {
		t.Errorf("metrics listener /metrics: %d %.200s", code, body)
	}
	if code, _ := get(t, svc.url+"/metrics"); code != http.StatusNotFound {
		t.Errorf("public listener /metrics with --metrics-addr: %d, want 404", code)
	}
	if code, _ := get(t, strings.TrimSuffix(m[1], "/metrics")+"/api/v1/endpoints"); code != http.StatusNotFound {
		t.Errorf("metrics listener serves the API: %d, want 404", code)
	}
}

// TestServeMetricsDefault: without --metrics-addr, /metrics stays on the
// main listener, as before.
func TestServeMetricsDefault(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	if code, body := get(t, svc.url+"/metrics"); code != 200 || !strings.Contains(body, "hookrelay_") {
		t.Errorf("/metrics: %d %.200s", code, body)
	}
	if metricsLine.MatchString(svc.stderr.String()) {
		t.Errorf("a metrics listener without --metrics-addr:\n%s", svc.stderr)
	}
}
