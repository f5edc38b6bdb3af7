package oauthtoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenServer hands out tok-1, tok-2, ... valid for expiresIn seconds,
// counting fetches; it blocks each fetch until gate is closed (if set).
func tokenServer(t *testing.T, expiresIn int, gate chan struct{}) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gate != nil {
			<-gate
		}
		if id, secret, ok := r.BasicAuth(); !ok || id != "id" || secret != "secret" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":"tok-%d","token_type":"Bearer","expires_in":%d}`, n.Add(1), expiresIn)
	}))
	t.Cleanup(s.Close)
	return s, &n
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestConcurrentCallersFetchOnce(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	srv, fetches := tokenServer(t, 3600, gate)
	c := &Cache{HTTPClient: srv.Client()}
	cred := Credentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret"}
	const callers = 20
	var wg sync.WaitGroup
	toks := make([]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Go(func() { toks[i], errs[i] = c.Token(context.Background(), cred) })
	}
	close(gate)
	wg.Wait()
	for i := range callers {
		if errs[i] != nil || toks[i] != "tok-1" {
			t.Fatalf("caller %d: %q %v", i, toks[i], errs[i])
		}
	}
	if fetches.Load() != 1 || c.Fetches() != 1 {
		t.Errorf("%d fetches (cache counts %d), want 1", fetches.Load(), c.Fetches())
	}
}

func TestExpiryAndInvalidate(t *testing.T) {
	t.Parallel()
	srv, fetches := tokenServer(t, 600, nil)
	clk := &clock{now: time.Now()}
	c := &Cache{HTTPClient: srv.Client(), Now: clk.Now}
	cred := Credentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret"}
	get := func() string {
		t.Helper()
		tok, err := c.Token(context.Background(), cred)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	if get() != "tok-1" {
		t.Fatal("first token")
	}
	// oauth2 computes the expiry from the real clock; the cache compares
	// it with its own: 600s - 30s margin.
	clk.add(560 * time.Second)
	if tok := get(); tok != "tok-1" {
		t.Errorf("before the margin: %s, want tok-1", tok)
	}
	clk.add(20 * time.Second)
	if tok := get(); tok != "tok-2" {
		t.Errorf("within the margin of expiry: %s, want a new token", tok)
	}
	c.Invalidate(cred, "tok-1") // not the cached one: nothing
	if tok := get(); tok != "tok-2" {
		t.Errorf("after invalidating a stale token: %s", tok)
	}
	c.Invalidate(cred, "tok-2")
	if tok := get(); tok != "tok-3" || fetches.Load() != 3 {
		t.Errorf("after invalidating: %s, %d fetches", tok, fetches.Load())
	}
	// Wrong credentials: an error naming the token URL, not the secret.
	_, err := c.Token(context.Background(), Credentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "wrong-secret-value"})
	if err == nil || !errors.Is(err, ErrNoToken) || strings.Contains(err.Error(), "wrong-secret-value") {
		t.Errorf("bad credentials: %v", err)
	}
}
