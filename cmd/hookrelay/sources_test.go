package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/signature"
)

// TestSourcesEndToEnd: a source made with the CLI receives a GitHub
// webhook at /in/{name} of a running serve, which forwards it, re-signed,
// to an internal service; a tampered one is refused and listed by
// "sources rejections"; the metrics count both.
func TestSourcesEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startServe(t, "--retry-schedule", "100ms,200ms")
	standard, _ := signature.Lookup("standard")
	rc := &receiver{scheme: standard}
	internal := httptest.NewServer(rc)
	defer internal.Close()

	out := svc.mustCLI(t, "", "sources", "create", "--name", "github", "--scheme", "github", "--secret", "gh-secret",
		"--destination", internal.URL+"/hooks", "--destination-scheme", "standard", "--json")
	var src struct {
		Name         string `json:"name"`
		IngestPath   string `json:"ingest_path"`
		Destinations []struct {
			Secret string `json:"secret"`
		} `json:"destinations"`
	}
	if err := json.Unmarshal([]byte(out), &src); err != nil || len(src.Destinations) != 1 || src.Destinations[0].Secret == "" {
		t.Fatalf("sources create: %q: %v", out, err)
	}
	rc.setSecret(src.Destinations[0].Secret)

	gh, _ := signature.Lookup("github")
	body := []byte(`{"ref":"refs/heads/main","after":"0123","pusher":{"name":"é"}}`)
	sig, err := gh.Sign(signature.Message{ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Payload: body}, "gh-secret")
	if err != nil {
		t.Fatal(err)
	}
	post := func(b []byte, h http.Header) int {
		req, _ := http.NewRequest("POST", svc.url+src.IngestPath, bytes.NewReader(b))
		req.Header = h.Clone()
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(body, sig.Header); code != http.StatusAccepted {
		t.Fatalf("ingest: %d", code)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, errs := rc.received()
		if len(errs) > 0 {
			t.Fatalf("the internal service refused the hop's signature: %v", errs)
		}
		if len(got) == 1 {
			if !bytes.Equal(got[0], body) {
				t.Fatalf("forwarded %q, want %q", got[0], body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the internal service received nothing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code := post(append(body[:len(body):len(body)], ' '), sig.Header); code != http.StatusUnauthorized {
		t.Fatalf("tampered: %d, want 401", code)
	}

	if out := svc.mustCLI(t, "", "sources", "rejections", "github"); !strings.Contains(out, "signature mismatch") {
		t.Errorf("sources rejections: %s", out)
	}
	if out := svc.mustCLI(t, "", "sources", "list"); !strings.Contains(out, svc.url+"/in/github") {
		t.Errorf("sources list: %s", out)
	}
	if out := svc.mustCLI(t, "", "sources", "get", "github"); !strings.Contains(out, internal.URL+"/hooks") {
		t.Errorf("sources get: %s", out)
	}
	resp, err := http.Get(svc.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`hookrelay_inbound_requests_total{outcome="accepted",source="github"} 1`,
		`hookrelay_inbound_requests_total{outcome="rejected",source="github"} 1`,
	} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}

	svc.mustCLI(t, "", "sources", "delete", "github")
	if code := post(body, sig.Header); code != http.StatusNotFound {
		// The gateway caches sources for up to 2 s.
		time.Sleep(2100 * time.Millisecond)
		if code := post(body, sig.Header); code != http.StatusNotFound {
			t.Errorf("after delete: %d, want 404", code)
		}
	}
	if _, errs, code := svc.cli(t, nil, "", "sources", "create", "--name", "x"); code != 2 || !strings.Contains(errs, "--scheme") {
		t.Errorf("create without a scheme: exit %d: %s", code, errs)
	}
}
