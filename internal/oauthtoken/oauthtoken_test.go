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

// TestCacheIsBounded: the cache drops expired tokens first, then the least
// recently used, so credentials that stop being used do not stay forever.
func TestCacheIsBounded(t *testing.T) {
	t.Parallel()
	srv, fetches := tokenServer(t, 3600, nil)
	// The oauth2 package dates a token's expiry from time.Now, so the
	// injected clock starts there.
	clk := &clock{now: time.Now()}
	c := &Cache{HTTPClient: srv.Client(), Now: clk.Now, MaxEntries: 10}
	cred := func(i int) Credentials {
		return Credentials{TokenURL: srv.URL, ClientID: "id", ClientSecret: "secret", Scopes: []string{fmt.Sprint(i)}}
	}
	get := func(i int) {
		t.Helper()
		if _, err := c.Token(context.Background(), cred(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		get(i)
		clk.add(time.Second)
	}
	if n := c.Len(); n != 10 {
		t.Fatalf("Len = %d, want 10", n)
	}
	// An hour later every token has expired: the eleventh set of
	// credentials finds them all gone.
	clk.add(time.Hour)
	get(10)
	if n := c.Len(); n != 1 {
		t.Fatalf("after expiry Len = %d, want 1", n)
	}

	// Fresh tokens, none expired: the least recently used go. (A new
	// clock: the old one is an hour past the tokens' real-time expiry.)
	clk = &clock{now: time.Now()}
	c = &Cache{HTTPClient: srv.Client(), Now: clk.Now, MaxEntries: 10}
	get(10)
	clk.add(time.Second)
	for i := 11; i < 20; i++ {
		get(i)
		clk.add(time.Second)
	}
	get(10) // the oldest entry is used again
	before := fetches.Load()
	get(20) // full (10, 11..19): 11, the least recently used, goes
	if n := c.Len(); n != 10 {
		t.Fatalf("after LRU eviction Len = %d, want 10", n)
	}
	get(10)
	get(19)
	if got := fetches.Load() - before; got != 1 {
		t.Fatalf("recently used tokens were fetched again: %d fetches, want 1 (for 20)", got)
	}
	get(11)
	if got := fetches.Load() - before; got != 2 {
		t.Fatalf("the least recently used token was kept: %d fetches, want 2", got)
	}
}
