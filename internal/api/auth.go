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

var errUnauthorized = &Error{http.StatusUnauthorized, CodeUnauthorized,
	"missing or invalid API key: send Authorization: Bearer <key>"}

// authenticate checks the request's bearer key, through the cache.
func (a *API) authenticate(r *http.Request) error {
	scheme, key, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return errUnauthorized
	}
	key = strings.TrimSpace(key)
	if len(key) < minKeyLen || len(key) > maxKeyLen {
		return errUnauthorized
	}
	var hash [sha256.Size]byte
	copy(hash[:], HashKey(key))
	now := a.now()
	if a.keys.valid(hash, now) {
		return nil
	}
	k, err := a.store.APIKeyByHash(r.Context(), hash[:])
	if errors.Is(err, store.ErrNotFound) {
		return errUnauthorized
	}
	if err != nil {
		return fmt.Errorf("look up api key: %w", err)
	}
	a.keys.add(hash, k.ID, now)
	return nil
}

// keyCache remembers recently verified key hashes for a short time, so that
// most requests skip the store. It is safe for concurrent use.
type keyCache struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[[sha256.Size]byte]cachedKey
}

type cachedKey struct {
	id      string
	expires time.Time
}

// maxCachedKeys bounds the cache; when full it starts over.
const maxCachedKeys = 1024

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, m: make(map[[sha256.Size]byte]cachedKey)}
}

func (c *keyCache) valid(hash [sha256.Size]byte, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.m[hash]
	if ok && now.Before(k.expires) {
		return true
	}
	if ok {
		delete(c.m, hash)
	}
	return false
}

func (c *keyCache) add(hash [sha256.Size]byte, id string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedKeys {
		clear(c.m)
	}
	c.m[hash] = cachedKey{id: id, expires: now.Add(c.ttl)}
}

// forget drops the key with this id, on revocation.
func (c *keyCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for h, k := range c.m {
		if k.id == id {
			delete(c.m, h)
		}
	}
}
