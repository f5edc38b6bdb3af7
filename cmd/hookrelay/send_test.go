package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/signature"
)

func TestSend(t *testing.T) {
	t.Parallel()
	const payload = `{"b": 1.0, "a": "é"}` + "\n"
	for _, tc := range []struct {
		scheme, secret string
	}{
		{"standard", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		{"github", "It's a Secret to Everybody"},
		{"stripe", "whsec_test"},
		{"slack", "8f742231b10e8888abcd99yyyzzz85a5"},
		{"plextrac", "s3cret"},
		{"teak", "s3cret"},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			t.Parallel()
			scheme, err := signature.Lookup(tc.scheme)
			if err != nil {
				t.Fatal(err)
			}
			rc := &receiver{scheme: scheme, secret: tc.secret}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e, out, errb := testEnv(nil, payload)
			code := run(t.Context(), e, []string{"send", "--scheme", tc.scheme, "--secret", tc.secret,
				"--header", "X-Test: yes", "--allow-private-networks", srv.URL + "/hook"})
			if code != 0 {
				t.Fatalf("exit %d: %s%s", code, out, errb)
			}
			if !strings.HasPrefix(out.String(), "HTTP 200 OK in ") || !strings.Contains(out.String(), "thanks") {
				t.Errorf("output: %s", out)
			}
			bodies, errs := rc.received()
			if len(errs) > 0 || len(bodies) != 1 {
				t.Fatalf("receiver: %d bodies, errors %v", len(bodies), errs)
			}
		})
	}
}

func TestSendRefusals(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusTeapot)
	}))
	defer srv.Close()
	// A non-2xx exits 1 after printing the response.
	e, out, errb := testEnv(map[string]string{"HOOKRELAY_SECRET": "plain"}, "{}")
	if code := run(t.Context(), e, []string{"send", "--scheme", "github", "--allow-private-networks", srv.URL}); code != 1 ||
		!strings.Contains(out.String(), "HTTP 418") || !strings.Contains(out.String(), "nope") {
		t.Errorf("418: exit %d: %s%s", code, out, errb)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"send", "--scheme", "github", "--secret", "s", srv.URL}, 1, "forbidden"},
		{[]string{"send", "--scheme", "rot13", "--secret", "s", srv.URL}, 2, "unknown signature scheme"},
		{[]string{"send", "--scheme", "github", srv.URL}, 2, "secret is required"},
		{[]string{"send", "--scheme", "standard", "--secret", "not-whsec", srv.URL}, 2, "secret"},
		{[]string{"send", "--scheme", "github", "--secret", "s"}, 2, "missing URL"},
		{[]string{"send", "--scheme", "github", "--secret", "s", "--header", "bad", srv.URL}, 2, "--header"},
	} {
		e, _, errb := testEnv(nil, "{}")
		if code := run(t.Context(), e, tc.args); code != tc.code || !strings.Contains(errb.String(), tc.msg) {
			t.Errorf("%v: exit %d, want %d with %q: %s", tc.args, code, tc.code, tc.msg, errb)
		}
	}
}

// TestEventsSendBody sends an event with the CLI to a loopback server
// that records the request: the payload on standard input arrives byte for
// byte inside the envelope, and the CLI prints what the server answered.
func TestEventsSendBody(t *testing.T) {
	t.Parallel()
	const payload = "{ \"z\" : 1.0,\n\"a\":\"\\u00e9<>\" }"
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/events" || r.Header.Get("Authorization") != "Bearer hr_k" {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		bodies <- b
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"evt_1","type":"order.created","deliveries":2}`)
	}))
	t.Cleanup(srv.Close)
	e, out, errb := testEnv(map[string]string{"HOOKRELAY_API": srv.URL, "HOOKRELAY_KEY": "hr_k"}, payload+"\n")
	if code := run(t.Context(), e, []string{"events", "send", "--type", "order.created", "--tenant", "acme", "--idempotency-key", "k1"}); code != 0 {
		t.Fatalf("events send: exit %d: %s", code, errb)
	}
	if got := out.String(); got != "evt_1 accepted, 2 deliveries\n" {
		t.Errorf("output %q", got)
	}
	b := <-bodies
	var got struct {
		Type, Tenant   string
		IdempotencyKey string `json:"idempotency_key"`
		Payload        json.RawMessage
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Type != "order.created" || got.Tenant != "acme" || got.IdempotencyKey != "k1" || string(got.Payload) != payload {
		t.Errorf("envelope %s", b)
	}
}

func TestParseArgs(t *testing.T) {
	t.Parallel()
	fs := newFlagSet("x", new(strings.Builder))
	j := fs.Bool("json", false, "")
	n := fs.String("name", "", "")
	pos, err := parseArgs(fs, []string{"ID1", "--json", "ID2", "--name", "x"})
	if err != nil || !*j || *n != "x" || strings.Join(pos, ",") != "ID1,ID2" {
		t.Errorf("parseArgs: %v %v %q %v", pos, *j, *n, err)
	}
}
