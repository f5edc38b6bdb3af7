package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

// KeyPrefix starts every generated API key.
const KeyPrefix = "hr_"

// Bounds on the length of an API key, generated or given.
const (
	minKeyLen = 12
	maxKeyLen = 256
)

// keyPrefixLen is how many leading characters of a key are stored in the
// clear, to recognize it in lists.
const keyPrefixLen = 10

// GenerateKey returns a new random API key: KeyPrefix and the unpadded
// base64url encoding of 32 random bytes.
func GenerateKey() string {
	b := make([]byte, 32)
	rand.Read(b)
	return KeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// HashKey returns the SHA-256 of key, as stored in store.APIKey.Hash.
func HashKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// CheckKey reports whether key can be an API key: 12 to 256 printable ASCII
// characters without spaces. Generated keys pass; so must keys supplied by
// an operator (HOOKRELAY_ADMIN_KEY).
func CheckKey(key string) error {
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return fmt.Errorf("api key must be %d to %d characters long", minKeyLen, maxKeyLen)
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] >= 0x7f {
			return errors.New("api key must be printable ASCII without spaces")
		}
	}
	return nil
}

// NewAPIKey returns the record to store for key (generated when ""), and
// the key itself, which is shown once and never stored.
func NewAPIKey(name, key string, now time.Time) (*store.APIKey, string, error) {
	if key == "" {
		key = GenerateKey()
	}
	if err := CheckKey(key); err != nil {
		return nil, "", err
	}
	if err := checkText("name", name, maxNameLen); err != nil {
		return nil, "", err
	}
	return &store.APIKey{
		ID:        store.NewID("key"),
		Name:      name,
		Hash:      HashKey(key),
		Prefix:    key[:keyPrefixLen],
		CreatedAt: now,
	}, key, nil
}

var errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing or invalid API key: send Authorization: Bearer <key>"}

// maxTokenLen bounds a tenant token's length.
const maxTokenLen = 4096

type principalKey struct{}

// principalOf returns the caller of an authenticated request.
func principalOf(r *http.Request) *access.Principal {
	p, _ := r.Context().Value(principalKey{}).(*access.Principal)
	if p == nil {
		// Unreachable: ServeHTTP authenticates every request first.
		return &access.Principal{Tenant: new(""), Scopes: nil}
	}
	return p
}

// principalOfKey returns what a stored key may do.
func principalOfKey(k *store.APIKey) *access.Principal {
	return access.KeyPrincipal(k.ID, k.Tenant, store.KeyScopes(k.Scopes))
}

// authenticate checks the request's bearer key or tenant token, through
// the cache, and returns who it is.
func (a *API) authenticate(r *http.Request) (*access.Principal, error) {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, errUnauthorized
	}
	key = strings.TrimSpace(key)
	token := access.IsToken(key)
	if len(key) < minKeyLen || len(key) > maxKeyLen && !(token && len(key) <= maxTokenLen) {
		return nil, errUnauthorized
	}
	var hash [sha256.Size]byte
	copy(hash[:], HashKey(key))
	now := a.now()
	if p := a.keys.valid(hash, now); p != nil {
		return p, nil
	}
	if token {
		return a.authenticateToken(r, key, hash, now)
	}
	k, err := a.store.APIKeyByHash(r.Context(), hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up api key: %w", err)
	}
	p := principalOfKey(k)
	a.keys.add(hash, p, now.Add(keyCacheTTL), now)
	return p, nil
}

// authenticateToken checks a tenant token: its MAC and expiry, then that
// the key that minted it is not revoked. It holds the scopes of the token
// that its key still holds.
func (a *API) authenticateToken(r *http.Request, token string, hash [sha256.Size]byte, now time.Time) (*access.Principal, error) {
	if a.tokens == nil {
		return nil, errUnauthorized
	}
	c, err := a.tokens.Open(token, now)
	if err != nil {
		return nil, errUnauthorized
	}
	k, err := a.store.GetAPIKey(r.Context(), c.KeyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("look up the key of a tenant token: %w", err)
	}
	kp := principalOfKey(k)
	if k.RevokedAt != nil || !kp.Sees(c.Tenant) {
		return nil, errUnauthorized
	}
	p := &access.Principal{KeyID: k.ID, Token: true, Tenant: &c.Tenant, Expires: c.Expires}
	for _, s := range c.Scopes {
		if kp.Has(s) { // Has(Admin) only if the key holds Admin itself
			p.Scopes = append(p.Scopes, s)
		}
	}
	expires := now.Add(keyCacheTTL)
	if c.Expires.Before(expires) {
		expires = c.Expires
	}
	a.keys.add(hash, p, expires, now)
	return p, nil
}

// touch records that the principal's key was used, at most once per
// store.KeyUseInterval per key on this node (and, by the store's own
// check, across nodes), writing only its last_used_at.
func (a *API) touch(r *http.Request, p *access.Principal, now time.Time) {
	if !a.keys.shouldTouch(p.KeyID, now) {
		return
	}
	if _, err := a.store.TouchAPIKey(r.Context(), p.KeyID, now); err != nil {
		a.log.WarnContext(r.Context(), "api: record key use", "key_id", p.KeyID, "error", err)
	}
}

// keyCache remembers recently verified key hashes for a short time, so that
// most requests skip the store, and when each key's use was last recorded.
// It is safe for concurrent use.
type keyCache struct {
	mu      sync.Mutex
	m       map[[sha256.Size]byte]cachedKey
	touched map[string]time.Time
}

type cachedKey struct {
	p       *access.Principal
	expires time.Time
}

// maxCachedKeys bounds the cache; when full it starts over.
const maxCachedKeys = 1024

func newKeyCache() *keyCache {
	return &keyCache{m: make(map[[sha256.Size]byte]cachedKey), touched: make(map[string]time.Time)}
}

func (c *keyCache) valid(hash [sha256.Size]byte, now time.Time) *access.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[hash]
	if ok && now.Before(k.expires) {
		return k.p
	}
	if ok {
		delete(c.m, hash)
	}
	return nil
}

func (c *keyCache) add(hash [sha256.Size]byte, p *access.Principal, expires, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[hash] = cachedKey{p: p, expires: expires}
}

// shouldTouch reports whether the use of key id at now is to be recorded,
// and if so notes it.
func (c *keyCache) shouldTouch(id string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if last, ok := c.touched[id]; ok && now.Sub(last) < store.KeyUseInterval {
		return false
	}
	if len(c.touched) >= maxCachedKeys {
		clear(c.touched)
	}
	c.touched[id] = now
	return true
}

// forget drops the key with this id, and the tokens it minted, on
// revocation.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, k := range c.m {
		if k.p.KeyID == id {
			delete(c.m, h)
		}
	}
}
