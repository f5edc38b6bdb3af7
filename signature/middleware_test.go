package signature

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMiddleware(t *testing.T) {
	t.Parallel()
	gh := mustLookup(t, "github")
	body := `{"action":"opened","n":1.0}`
	h, _ := signedRequest(t, gh, body, "s3cret")

	var got []byte
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		if r.ContentLength != int64(len(got)) {
			t.Errorf("ContentLength = %d, body %d bytes", r.ContentLength, len(got))
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(Middleware(gh, "new-secret", "s3cret")(next))
	defer srv.Close()

	post := func(h http.Header, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(body))
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, _ := post(h, body); code != http.StatusNoContent || string(got) != body {
		t.Errorf("valid request: status %d, handler saw %q", code, got)
	}
	got = nil
	for _, tt := range []struct {
		h      http.Header
		body   string
		reason string
	}{
		{h, body + " ", "signature mismatch"},
		{http.Header{}, body, "missing signature"},
		{http.Header{"X-Hub-Signature-256": {"sha256=zz"}}, body, "malformed signature"},
	} {
		code, msg := post(tt.h, tt.body)
		if code != http.StatusUnauthorized || msg != tt.reason {
			t.Errorf("status %d %q, want 401 %q", code, msg, tt.reason)
		}
		if got != nil {
			t.Error("handler ran for a rejected request")
		}
		if strings.Contains(msg, h.Get("X-Hub-Signature-256")[7:]) || strings.Contains(msg, "s3cret") {
			t.Errorf("response leaks: %q", msg)
		}
	}
}

func TestVerifierLimitsAndReject(t *testing.T) {
	t.Parallel()
	std := mustLookup(t, "standard")
	sec := secretFor(std)
	now := time.Now()
	sg, err := std.Sign(Message{ID: "msg_1", Timestamp: now, Payload: []byte(`{"big":"` + strings.Repeat("x", 2000) + `"}`)}, sec)
	if err != nil {
		t.Fatal(err)
	}
	var rejected atomic.Value
	v := &Verifier{
		Scheme: std, Secrets: []string{sec}, MaxBodyBytes: 1000,
		Options: VerifyOptions{Seen: &MemorySeen{}},
		Reject: func(w http.ResponseWriter, r *http.Request, err error) {
			rejected.Store(err)
			w.WriteHeader(http.StatusTeapot)
		},
	}
	h := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req := httptest.NewRequest("POST", "/", bytes.NewReader(sg.Body))
	req.Header = sg.Header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var mbe *http.MaxBytesError
	if err, _ := rejected.Load().(error); rec.Code != http.StatusTeapot || !errors.As(err, &mbe) {
		t.Errorf("oversized body: status %d, error %v", rec.Code, err)
	}

	// Without Reject: 413, and replays are refused with 401.
	v.Reject = nil
	req = httptest.NewRequest("POST", "/", bytes.NewReader(sg.Body))
	req.Header = sg.Header.Clone()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d, want 413", rec.Code)
	}
	v.MaxBodyBytes = 0
	for i, want := range []int{http.StatusOK, http.StatusUnauthorized} {
		req := httptest.NewRequest("POST", "/", bytes.NewReader(sg.Body))
		req.Header = sg.Header.Clone()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("delivery %d: status %d, want %d (%s)", i+1, rec.Code, want, rec.Body)
		}
	}

	// Check hands back the body and restores it.
	req = httptest.NewRequest("POST", "/", bytes.NewReader(sg.Body))
	req.Header = sg.Header.Clone()
	v.Options.Seen = nil
	b, err := v.Check(req)
	if err != nil || !bytes.Equal(b, sg.Body) {
		t.Fatalf("Check = %q, %v", b, err)
	}
	again, _ := io.ReadAll(req.Body)
	rc, _ := req.GetBody()
	third, _ := io.ReadAll(rc)
	if !bytes.Equal(again, sg.Body) || !bytes.Equal(third, sg.Body) {
		t.Error("Check did not restore the body")
	}

	// A misconfigured verifier answers 500, not 401.
	bad := (&Verifier{Scheme: std, Secrets: []string{"whsec_!!"}}).Handler(http.NotFoundHandler())
	req = httptest.NewRequest("POST", "/", bytes.NewReader(sg.Body))
	req.Header = sg.Header.Clone()
	rec = httptest.NewRecorder()
	bad.ServeHTTP(rec, req)
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "whsec") {
		t.Errorf("bad secret: %d %q", rec.Code, rec.Body)
	}

	// A body that cannot be read is a 400.
	req = httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader("ab"), errReader{}))
	req.Header = sg.Header.Clone()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadRequest {
		t.Errorf("unreadable body: %d", rec.Code)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestMemorySeen(t *testing.T) {
	t.Parallel()
	now := t0
	m := &MemorySeen{Max: 3, Now: func() time.Time { return now }}
	if m.SeenBefore("a", now.Add(time.Minute)) || !m.SeenBefore("a", now.Add(time.Minute)) {
		t.Fatal("a: want unseen, then seen")
	}
	now = now.Add(time.Minute)
	if m.SeenBefore("a", now.Add(time.Minute)) {
		t.Error("a seen after it expired")
	}
	for _, id := range []string{"b", "c", "d"} {
		m.SeenBefore(id, now.Add(time.Hour))
	}
	if m.Len() > 3 {
		t.Errorf("Len() = %d, want at most 3", m.Len())
	}
	// "a" expires first, so it was dropped to make room.
	if m.SeenBefore("a", now.Add(time.Hour)) {
		t.Error("a was not the entry dropped")
	}

	// Concurrent callers: exactly one wins each id.
	var c MemorySeen
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				if !c.SeenBefore(fmt.Sprint(j), time.Now().Add(time.Hour)) {
					wins.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 100 {
		t.Errorf("%d first sightings of 100 ids", wins.Load())
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"standard", "stripe", "slack"} {
		s := mustLookup(t, name)
		sec := secretFor(s)
		seen := &MemorySeen{Now: func() time.Time { return t0 }}
		opts := &VerifyOptions{Now: func() time.Time { return t0 }, Seen: seen}
		payload := `{"id":"evt_1"}`
		first, err := s.Sign(Message{ID: "msg_1", Timestamp: t0, Payload: []byte(payload)}, sec)
		if err != nil {
			t.Fatal(err)
		}
		retry, _ := s.Sign(Message{ID: "msg_1", Timestamp: t0.Add(time.Second), Payload: []byte(payload)}, sec)
		if err := s.Verify(first.Header, first.Body, []string{sec}, opts); err != nil {
			t.Fatalf("%s first: %v", name, err)
		}
		if err := s.Verify(first.Header, first.Body, []string{sec}, opts); !errors.Is(err, ErrReplayed) {
			t.Errorf("%s replay: %v, want ErrReplayed", name, err)
		}
		if err := s.Verify(retry.Header, retry.Body, []string{sec}, opts); err != nil {
			t.Errorf("%s retry at a new timestamp: %v", name, err)
		}
		// A forged copy never reaches the store.
		if err := s.Verify(first.Header, []byte(`{"id":"evt_2"}`), []string{sec}, opts); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s forged: %v", name, err)
		}
		if n := seen.Len(); n != 2 {
			t.Errorf("%s: store holds %d entries, want 2", name, n)
		}
	}
	// Schemes without a timestamp do not consult the store.
	gh := mustLookup(t, "github")
	h, b := signedRequest(t, gh, "x", "k")
	opts := &VerifyOptions{Seen: &MemorySeen{}}
	for i := 0; i < 2; i++ {
		if err := gh.Verify(h, b, []string{"k"}, opts); err != nil {
			t.Errorf("github delivery %d: %v", i, err)
		}
	}
}
