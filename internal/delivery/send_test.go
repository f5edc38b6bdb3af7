package delivery

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/signature"
)

func testSigned(body string) signature.Signed {
	return signature.Signed{Body: []byte(body), Header: http.Header{}}
}

func TestSend(t *testing.T) {
	t.Parallel()
	type got struct {
		body   []byte
		header http.Header
		method string
	}
	gotc := make(chan got, 1)
	big := strings.Repeat("x", 100<<10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotc <- got{b, r.Header.Clone(), r.Method}
		switch r.URL.Path {
		case "/big":
			io.WriteString(w, big)
		case "/gone":
			w.WriteHeader(http.StatusGone)
			io.WriteString(w, "bye")
		default:
			io.WriteString(w, "thanks")
		}
	}))
	defer srv.Close()
	client := NewHTTPClient(true, 5*time.Second)

	// Sign something real: the body sent is exactly Signed.Body (here the
	// JS re-serialization), with the scheme's headers.
	scheme, err := signature.Lookup("plextrac")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := scheme.Sign(signature.Message{ID: "evt_1", Payload: []byte(`{"b": 1.0, "a": "é"}`)}, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Send(t.Context(), client, srv.URL+"/ok", signed)
	if err != nil {
		t.Fatal(err)
	}
	g := <-gotc
	if !bytes.Equal(g.body, signed.Body) {
		t.Fatalf("body sent %q, want exactly %q", g.body, signed.Body)
	}
	if g.method != http.MethodPost {
		t.Fatalf("method %s", g.method)
	}
	for k := range signed.Header {
		if g.header.Get(k) != signed.Header.Get(k) || g.header.Get(k) == "" {
			t.Fatalf("header %s = %q, want %q", k, g.header.Get(k), signed.Header.Get(k))
		}
	}
	if ct, ua := g.header.Get("Content-Type"), g.header.Get("User-Agent"); ct != "application/json" || ua != "hookrelay" {
		t.Fatalf("Content-Type %q, User-Agent %q", ct, ua)
	}
	if res.StatusCode != 200 || string(res.Body) != "thanks" || res.Truncated {
		t.Fatalf("result %+v", res)
	}
	if res.RequestHeader.Get("User-Agent") != "hookrelay" {
		t.Fatal("RequestHeader does not hold what was sent")
	}

	// A long response body is cut at MaxResponseRead, and at the engine's
	// smaller limit by send.
	res, err = Send(t.Context(), client, srv.URL+"/big", testSigned("{}"))
	<-gotc
	if err != nil || len(res.Body) != MaxResponseRead || !res.Truncated {
		t.Fatalf("big body: len %d truncated %v err %v", len(res.Body), res.Truncated, err)
	}
	res, err = send(t.Context(), client, srv.URL+"/big", testSigned("{}"), 10)
	<-gotc
	if err != nil || string(res.Body) != "xxxxxxxxxx" || !res.Truncated {
		t.Fatalf("big body kept to 10: %q truncated %v err %v", res.Body, res.Truncated, err)
	}

	// A non-2xx is a result and a *HTTPError; 410 says what it means.
	res, err = Send(t.Context(), client, srv.URL+"/gone", testSigned("{}"))
	<-gotc
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != 410 || !strings.Contains(err.Error(), "Standard Webhooks suggests disabling") {
		t.Fatalf("410: err %v", err)
	}
	if res == nil || string(res.Body) != "bye" {
		t.Fatalf("410: result %+v", res)
	}

	// No response: nil result and the error.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u := srv2.URL
	srv2.Close()
	if res, err := Send(t.Context(), client, u, testSigned("{}")); res != nil || err == nil {
		t.Fatalf("closed server: %v, %v", res, err)
	}
}
