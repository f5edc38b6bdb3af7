package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(ok.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":"unavailable"}`))
	}))
	t.Cleanup(down.Close)
	// hang never answers until the test ends: only --timeout can end the check.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(hang.Close)
	t.Cleanup(func() { close(release) })
	// refused is an address nothing listens on any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()
	_, okPort, _ := net.SplitHostPort(strings.TrimPrefix(ok.URL, "http://"))

	tests := map[string]struct {
		vars     map[string]string
		args     []string
		wantCode int
		wantOut  string
	}{
		"200":                  {args: []string{"--url", ok.URL + "/healthz"}, wantCode: 0, wantOut: `{"status":"ok"}`},
		"503":                  {args: []string{"--url", down.URL + "/healthz"}, wantCode: 1},
		"404":                  {args: []string{"--url", ok.URL + "/nothere"}, wantCode: 1},
		"refused":              {args: []string{"--url", "http://" + refused + "/healthz"}, wantCode: 1},
		"hangs past timeout":   {args: []string{"--url", hang.URL + "/healthz", "--timeout", "200ms"}, wantCode: 1},
		"url from env":         {vars: map[string]string{"HOOKRELAY_HEALTHCHECK_URL": ok.URL + "/healthz"}, wantCode: 0, wantOut: `{"status":"ok"}`},
		"flag beats env":       {vars: map[string]string{"HOOKRELAY_HEALTHCHECK_URL": ok.URL + "/healthz"}, args: []string{"--url", down.URL + "/healthz"}, wantCode: 1},
		"port from addr":       {vars: map[string]string{"HOOKRELAY_ADDR": ":" + okPort}, wantCode: 0, wantOut: `{"status":"ok"}`},
		"not a URL":            {args: []string{"--url", "127.0.0.1:8080"}, wantCode: 2},
		"bad HOOKRELAY_ADDR":   {vars: map[string]string{"HOOKRELAY_ADDR": "8080"}, wantCode: 2},
		"non-positive timeout": {args: []string{"--url", ok.URL, "--timeout", "0s"}, wantCode: 2},
		"stray argument":       {args: []string{"extra"}, wantCode: 2},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, out, errb := testEnv(tt.vars, "")
			code := run(context.Background(), e, append([]string{"healthcheck"}, tt.args...))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tt.wantCode, errb)
			}
			if tt.wantOut != "" && out.String() != tt.wantOut {
				t.Errorf("stdout %q, want %q", out, tt.wantOut)
			}
		})
	}
}

// TestHealthcheckServe checks the command against a real serve, the way the
// container's HEALTHCHECK uses it.
func TestHealthcheckServe(t *testing.T) {
	t.Parallel()
	s := startServe(t)
	e, out, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"healthcheck", "--url", s.url + "/healthz"}); code != 0 {
		t.Fatalf("exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), `"store":"ok"`) {
		t.Errorf("stdout %q", out)
	}
}

func TestHealthzURL(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":               "http://127.0.0.1:8080/healthz",
		":8080":          "http://127.0.0.1:8080/healthz",
		"0.0.0.0:9000":   "http://127.0.0.1:9000/healthz",
		"[::]:9000":      "http://127.0.0.1:9000/healthz",
		"127.0.0.1:8080": "http://127.0.0.1:8080/healthz",
		"10.1.2.3:80":    "http://10.1.2.3:80/healthz",
		"[::1]:8080":     "http://[::1]:8080/healthz",
		"localhost:8080": "http://localhost:8080/healthz",
	}
	for addr, want := range tests {
		got, err := healthzURL(addr)
		if err != nil || got != want {
			t.Errorf("healthzURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := healthzURL("8080"); err == nil {
		t.Error(`healthzURL("8080") succeeded`)
	}
}
