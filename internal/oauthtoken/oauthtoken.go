// Package oauthtoken fetches and caches OAuth2 client-credentials tokens
// for the delivery engine: one token per set of credentials, fetched once
// however many deliveries ask at the same time, kept until shortly before
// it expires, and fetched again when a receiver refuses it (Invalidate).
//
// The fetch itself is golang.org/x/oauth2/clientcredentials (form
// encoding, client authentication, error responses); the token request is
// made with the Cache's HTTPClient, which the engine gives the same SSRF
// guard (and egress proxy) as deliveries.
package oauthtoken

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultMargin is how long before its expiry a token stops being used
// when Cache.Margin is 0.
const DefaultMargin = 30 * time.Second

// DefaultMaxEntries is Cache.MaxEntries's default.
const DefaultMaxEntries = 10000

// Credentials are those of one client-credentials grant.
type Credentials struct {
	TokenURL     string
	ClientID     string
	ClientSecret string
	Scopes       []string
	// Audience, if set, is sent as the "audience" parameter (Auth0 and
	// others need it).
	Audience string
}

// key identifies credentials without holding the secret in clear.
func (c Credentials) key() [32]byte {
	return sha256.Sum256([]byte(strings.Join([]string{c.TokenURL, c.ClientID, c.ClientSecret,
		strings.Join(c.Scopes, " "), c.Audience}, "\x00")))
}

// Cache holds tokens. The zero value is not usable: set HTTPClient. It is
// safe for concurrent use.
type Cache struct {
	// HTTPClient makes the token requests; required.
	HTTPClient *http.Client
	// Margin is how long before expiry a token is fetched again; 0 means
	// DefaultMargin. A token that lives less than twice the margin is
	// kept for half its life.
	Margin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxEntries bounds the credentials the cache holds tokens for; 0
	// means DefaultMaxEntries. When a new set of credentials would pass
	// it, the entries whose token has expired go first, then the least
	// recently used, down to nine tenths of the bound; so credentials that
	// were rotated away or belong to deleted endpoints do not stay for
	// the life of the process.
	MaxEntries int

	mu      sync.Mutex
	entries map[[32]byte]*entry
	fetches int64
}

type entry struct {
	mu       sync.Mutex // held while fetching: one fetch at a time
	token    string
	until    time.Time // zero: no expiry known, kept until invalidated
	cached   bool
	lastUsed time.Time // guarded by Cache.mu
}

// ErrNoToken is returned (wrapped) when the token server answered without
// an access token or with an error.
var ErrNoToken = errors.New("oauth2 token request failed")

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Token returns a valid access token for cred, from the cache or fetched.
// Concurrent calls for the same credentials make one request.
func (c *Cache) Token(ctx context.Context, cred Credentials) (string, error) {
	e := c.entry(cred)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := c.now()
	if e.cached && (e.until.IsZero() || now.Before(e.until)) {
		return e.token, nil
	}
	cc := clientcredentials.Config{
		ClientID:     cred.ClientID,
		ClientSecret: cred.ClientSecret,
		TokenURL:     cred.TokenURL,
		Scopes:       cred.Scopes,
	}
	if cred.Audience != "" {
		cc.EndpointParams = url.Values{"audience": {cred.Audience}}
	}
	c.mu.Lock()
	c.fetches++
	c.mu.Unlock()
	tok, err := cc.Token(context.WithValue(ctx, oauth2.HTTPClient, c.HTTPClient))
	if err != nil {
		// The error may quote the server's answer, never the secret.
		return "", fmt.Errorf("%w: %s: %v", ErrNoToken, cred.TokenURL, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("%w: %s: no access_token in the answer", ErrNoToken, cred.TokenURL)
	}
	e.token, e.cached, e.until = tok.AccessToken, true, time.Time{}
	if !tok.Expiry.IsZero() {
		margin := c.Margin
		if margin == 0 {
			margin = DefaultMargin
		}
		life := tok.Expiry.Sub(now)
		if life < 2*margin {
			margin = life / 2
		}
		e.until = tok.Expiry.Add(-margin)
	}
	return e.token, nil
}

// Invalidate forgets token for cred, if it is still the cached one, so
// that the next Token fetches a new one: a receiver refused it.
func (c *Cache) Invalidate(cred Credentials, token string) {
	e := c.entry(cred)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cached && e.token == token {
		e.cached, e.token = false, ""
	}
}

// Fetches returns how many token requests the cache has made.
func (c *Cache) Fetches() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fetches
}

func (c *Cache) entry(cred Credentials) *entry {
	k := cred.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[[32]byte]*entry)
	}
	now := c.now()
	e, ok := c.entries[k]
	if !ok {
		if max := c.maxEntries(); len(c.entries) >= max {
			c.evictLocked(now, max-max/10)
		}
		e = &entry{}
		c.entries[k] = e
	}
	e.lastUsed = now
	return e
}

// Len returns how many sets of credentials the cache holds an entry for.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func (c *Cache) maxEntries() int {
	if c.MaxEntries > 0 {
		return c.MaxEntries
	}
	return DefaultMaxEntries
}

// evictLocked removes entries until at most keep remain: first those with
// no valid token, then the least recently used. An entry that is being
// fetched is left alone. c.mu is held.
func (c *Cache) evictLocked(now time.Time, keep int) {
	for k, e := range c.entries {
		if !e.mu.TryLock() {
			continue
		}
		stale := !e.cached || (!e.until.IsZero() && !now.Before(e.until))
		e.mu.Unlock()
		if stale {
			delete(c.entries, k)
		}
	}
	if len(c.entries) <= keep {
		return
	}
	type aged struct {
		k    [32]byte
		used time.Time
	}
	all := make([]aged, 0, len(c.entries))
	for k, e := range c.entries {
		all = append(all, aged{k, e.lastUsed})
	}
	slices.SortFunc(all, func(a, b aged) int { return a.used.Compare(b.used) })
	for _, a := range all[:len(all)-keep] {
		delete(c.entries, a.k)
	}
}
