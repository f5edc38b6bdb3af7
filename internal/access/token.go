package access

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// TokenPrefix starts every tenant token, so that it cannot be mistaken for
// an API key (which starts with "hr_").
const TokenPrefix = "hrt_"

// MaxTokenTTL is the longest a tenant token may live.
const MaxTokenTTL = 24 * time.Hour

// Errors of OpenToken.
var (
	// ErrBadToken: not a token this key signed.
	ErrBadToken = errors.New("invalid tenant token")
	// ErrTokenExpired: signed, but past its expiry.
	ErrTokenExpired = errors.New("tenant token expired")
)

// TokenClaims is what a tenant token holds. It is stateless: no row is
// stored per token, and the minting key's revocation revokes it.
type TokenClaims struct {
	KeyID   string    `json:"k"` // the API key that minted it
	Tenant  string    `json:"t"`
	Scopes  []Scope   `json:"s"`
	Expires time.Time `json:"-"`
	Exp     int64     `json:"e"` // Unix seconds of Expires
}

// Tokens mints and opens tenant tokens with an HMAC-SHA256 key.
type Tokens struct {
	key []byte
}

// NewTokens returns a Tokens signing with key, which must hold at least 32
// bytes (a server secret, such as one derived from the session key).
func NewTokens(key []byte) (*Tokens, error) {
	if len(key) < 32 {
		return nil, fmt.Errorf("access: token key is %d bytes, want at least 32", len(key))
	}
	return &Tokens{key: key}, nil
}

func (t *Tokens) mac(payload string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("hookrelay tenant token\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// Mint returns a token holding c: TokenPrefix, the base64url JSON of the
// claims, a dot and the base64url MAC.
func (t *Tokens) Mint(c TokenClaims) (string, error) {
	c.Exp = c.Expires.Unix()
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode token: %w", err)
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return TokenPrefix + payload + "." + base64.RawURLEncoding.EncodeToString(t.mac(payload)), nil
}

// IsToken reports whether s has the form of a tenant token (not whether it
// is valid).
func IsToken(s string) bool { return strings.HasPrefix(s, TokenPrefix) }

// Open checks token's MAC (in constant time) and expiry at now and returns
// its claims. Errors are ErrBadToken or ErrTokenExpired.
func (t *Tokens) Open(token string, now time.Time) (TokenClaims, error) {
	var c TokenClaims
	rest, ok := strings.CutPrefix(token, TokenPrefix)
	if !ok {
		return c, ErrBadToken
	}
	payload, sig, ok := strings.Cut(rest, ".")
	if !ok {
		return c, ErrBadToken
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, t.mac(payload)) {
		return c, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return c, ErrBadToken
	}
	if err := json.Unmarshal(b, &c); err != nil || c.KeyID == "" {
		return c, ErrBadToken
	}
	c.Expires = time.Unix(c.Exp, 0)
	if !now.Before(c.Expires) {
		return c, ErrTokenExpired
	}
	return c, nil
}

// DeriveTokenKey derives the key that signs tenant tokens from a server
// secret (the dashboard's session key), so that an installation needs no
// key of its own for them and every node that shares the secret agrees.
func DeriveTokenKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("hookrelay tenant token key v1"))
	return m.Sum(nil)
}
