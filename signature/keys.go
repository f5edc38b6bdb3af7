package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"hash"
	"log/slog"
	"strings"
	"sync"
)

// Prefixes of Standard Webhooks secrets: a symmetric HMAC secret, an Ed25519
// secret (signing) key and an Ed25519 public (verifying) key.
const (
	PrefixSecret    = "whsec_"
	PrefixSecretKey = "whsk_"
	PrefixPublicKey = "whpk_"
)

// A Secret is a signing secret or private key that redacts itself when
// printed with the fmt verbs %v, %s and %q or logged with log/slog, so that
// it cannot leak into logs by accident. Convert it to a string explicitly,
// string(s), to use it.
type Secret string

// String returns a fixed placeholder, never the secret.
func (Secret) String() string { return "[redacted]" }

// GoString returns a fixed placeholder, never the secret.
func (Secret) GoString() string { return `signature.Secret("[redacted]")` }

// LogValue returns a fixed placeholder, never the secret.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// encoding is how a MAC or signature is written in a header.
type encoding uint8

const (
	encHex encoding = iota
	encBase64
	encBase64URL
)

func (e encoding) String() string {
	switch e {
	case encBase64:
		return "base64"
	case encBase64URL:
		return "base64url"
	}
	return "hex"
}

var (
	b64Std    = base64.StdEncoding.Strict()
	b64RawStd = base64.RawStdEncoding.Strict()
	b64URL    = base64.URLEncoding.Strict()
	b64RawURL = base64.RawURLEncoding.Strict()
)

// decode decodes src into dst and returns the number of bytes written, or
// -1 if src is not a canonical encoding or would not fit dst. Hex is accepted
// in either case; base64 with or without padding. src must not contain line
// breaks, which encoding/base64 would silently skip.
func (e encoding) decode(dst, src []byte) int {
	if e == encHex {
		if len(src)%2 != 0 || len(src)/2 > len(dst) {
			return -1
		}
		for i := 0; i < len(src); i += 2 {
			hi, lo := unhex(src[i]), unhex(src[i+1])
			if hi > 15 || lo > 15 {
				return -1
			}
			dst[i/2] = hi<<4 | lo
		}
		return len(src) / 2
	}
	for _, c := range src {
		if c == '\r' || c == '\n' {
			return -1
		}
	}
	var enc *base64.Encoding
	switch {
	case e == encBase64 && len(src)%4 == 0:
		enc = b64Std
	case e == encBase64:
		enc = b64RawStd
	case len(src)%4 == 0:
		enc = b64URL
	default:
		enc = b64RawURL
	}
	if enc.DecodedLen(len(src)) > len(dst) {
		return -1
	}
	n, err := enc.Decode(dst, src)
	if err != nil {
		return -1
	}
	return n
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}

// appendEncode appends the canonical encoding of b: lowercase hex, or
// padded base64.
func (e encoding) appendEncode(dst, b []byte) []byte {
	switch e {
	case encBase64:
		return base64.StdEncoding.AppendEncode(dst, b)
	case encBase64URL:
		return base64.URLEncoding.AppendEncode(dst, b)
	}
	const digits = "0123456789abcdef"
	for _, c := range b {
		dst = append(dst, digits[c>>4], digits[c&15])
	}
	return dst
}

// key is a secret prepared for use: an HMAC key with a pool of hash states
// keyed with it, or an Ed25519 key. It is built once per secret string and
// cached, so that verifying does not redo key setup or allocate.
type key struct {
	hmac []byte    // HMAC key, nil for Ed25519 keys
	pool sync.Pool // of hash.Hash keyed with hmac

	pub  ed25519.PublicKey  // Ed25519 public key, for v1a
	priv ed25519.PrivateKey // Ed25519 private key, when the secret is whsk_

	err error // why the secret is unusable; never mentions its value
}

func (k *key) isEd25519() bool { return k.pub != nil }

// macState returns a hash keyed with k, reset. Return it with putMAC.
func (k *key) macState() hash.Hash {
	if h, ok := k.pool.Get().(hash.Hash); ok {
		h.Reset()
		return h
	}
	return hmac.New(sha256.New, k.hmac)
}

func (k *key) putMAC(h hash.Hash) { k.pool.Put(h) }

// keyCacheMax bounds the number of secrets cached per key form; the cache
// is emptied when it is reached.
const keyCacheMax = 4096

type keyCache struct {
	mu sync.RWMutex
	m  map[string]*key
}

var keyCaches [numKeyForms]keyCache

// prepareKey returns the key for secret in the given form, from the cache
// when it can. The returned key's err is set if the secret is unusable.
func prepareKey(form keyForm, secret string) *key {
	c := &keyCaches[form]
	c.mu.RLock()
	k := c.m[secret]
	c.mu.RUnlock()
	if k != nil {
		return k
	}
	k = newKey(form, secret)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= keyCacheMax {
		c.m = make(map[string]*key)
	}
	if old := c.m[secret]; old != nil {
		k = old
	} else {
		c.m[strings.Clone(secret)] = k
	}
	c.mu.Unlock()
	return k
}

var (
	errEmptySecret = fmt.Errorf("%w: empty", ErrSecret)
	errNotBase64   = fmt.Errorf("%w: not base64 (after any %s prefix)", ErrSecret, PrefixSecret)
	errBadSK       = fmt.Errorf("%w: %s key is not base64 of a 32-byte Ed25519 seed or 64-byte private key", ErrSecret, PrefixSecretKey)
	errEdNotHere   = fmt.Errorf("%w: Ed25519 keys sign only Standard Webhooks v1a", ErrSecret)
	errBadPK       = fmt.Errorf("%w: %s key is not base64 of a 32-byte Ed25519 public key", ErrSecret, PrefixPublicKey)
)

func newKey(form keyForm, secret string) *key {
	if secret == "" {
		return &key{err: errEmptySecret}
	}
	if form == keyText {
		return &key{hmac: []byte(secret)}
	}
	switch {
	case strings.HasPrefix(secret, PrefixSecretKey):
		priv, err := parseSecretKey(secret)
		if err != nil {
			return &key{err: err}
		}
		return &key{priv: priv, pub: priv.Public().(ed25519.PublicKey)}
	case strings.HasPrefix(secret, PrefixPublicKey):
		b, ok := decodeBase64Secret(secret[len(PrefixPublicKey):])
		if !ok || len(b) != ed25519.PublicKeySize {
			return &key{err: errBadPK}
		}
		return &key{pub: ed25519.PublicKey(b)}
	}
	b, ok := decodeBase64Secret(strings.TrimPrefix(secret, PrefixSecret))
	if !ok || len(b) == 0 {
		return &key{err: errNotBase64}
	}
	return &key{hmac: b}
}

// parseSecretKey reads a whsk_ key: base64 of a 32-byte seed (as the
// Standard Webhooks reference libraries write it) or of the 64-byte
// seed‖public key (as Svix's server stores it).
func parseSecretKey(secret string) (ed25519.PrivateKey, error) {
	b, ok := decodeBase64Secret(strings.TrimPrefix(secret, PrefixSecretKey))
	if !ok {
		return nil, errBadSK
	}
	switch len(b) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(b), nil
	case ed25519.PrivateKeySize:
		priv := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		if !hmac.Equal(priv[ed25519.SeedSize:], b[ed25519.SeedSize:]) {
			return nil, errBadSK
		}
		return priv, nil
	}
	return nil, errBadSK
}

func decodeBase64Secret(s string) ([]byte, bool) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// GenerateSecret returns a new random secret for s: for Standard Webhooks,
// "whsec_" and the base64 of 32 random bytes; for Stripe, "whsec_" and 43
// random URL-safe characters; for the other schemes, 43 random URL-safe
// characters (256 bits). For Standard Webhooks Ed25519 key pairs, see
// [GenerateKeyPair].
func GenerateSecret(s *Scheme) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("signature: generate secret: %w", err)
	}
	switch {
	case s.key == keyBase64:
		return PrefixSecret + base64.StdEncoding.EncodeToString(b[:]), nil
	case s.name == "stripe":
		return PrefixSecret + base64.RawURLEncoding.EncodeToString(b[:]), nil
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// GenerateKeyPair returns a new Standard Webhooks Ed25519 key pair: the
// secret key "whsk_" + base64 of its 32-byte seed, to sign v1a signatures
// with [Scheme.Sign], and the public key "whpk_" + base64 of its 32 bytes, to
// give to receivers for [Scheme.Verify].
func GenerateKeyPair() (secretKey, publicKey string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("signature: generate key pair: %w", err)
	}
	return PrefixSecretKey + base64.StdEncoding.EncodeToString(priv.Seed()),
		PrefixPublicKey + base64.StdEncoding.EncodeToString(pub), nil
}

// PublicKey returns the whpk_ public key of a whsk_ secret key, or an error
// wrapping [ErrSecret].
func PublicKey(secretKey string) (string, error) {
	if !strings.HasPrefix(secretKey, PrefixSecretKey) {
		return "", fmt.Errorf("signature: %w: not a %s key", ErrSecret, PrefixSecretKey)
	}
	priv, err := parseSecretKey(secretKey)
	if err != nil {
		return "", fmt.Errorf("signature: %w", err)
	}
	return PrefixPublicKey + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), nil
}

// ValidateSecret reports whether secret can be used with s, and if not why,
// in an error that wraps [ErrSecret] and never contains the secret. Every
// secret must be non-empty and free of leading or trailing white space (a
// copy-and-paste slip that silently changes the key). Standard Webhooks
// secrets must be whsec_ followed by base64 of 24 to 64 bytes, a whsk_ secret
// key or a whpk_ public key; custom schemes with secret_encoding base64 need
// base64.
func ValidateSecret(s *Scheme, secret string) error {
	wrap := func(err error) error { return fmt.Errorf("signature: %s secret: %w", s.name, err) }
	if secret == "" {
		return wrap(errEmptySecret)
	}
	if strings.TrimSpace(secret) != secret {
		return wrap(fmt.Errorf("%w: leading or trailing white space", ErrSecret))
	}
	if s.key == keyText {
		return nil
	}
	k := newKey(keyBase64, secret)
	if k.err != nil {
		return wrap(k.err)
	}
	if k.isEd25519() {
		if s.format != formatStandard {
			return wrap(errEdNotHere)
		}
		return nil
	}
	if s.format == formatStandard && (len(k.hmac) < 24 || len(k.hmac) > 64) {
		return wrap(fmt.Errorf("%w: decodes to %d bytes, want 24 to 64", ErrSecret, len(k.hmac)))
	}
	return nil
}

// secretError reports an unusable secret, naming it by its position only.
func secretError(scheme string, i, n int, err error) error {
	detail := "secret"
	if n > 1 {
		detail = fmt.Sprintf("secret %d of %d", i+1, n)
	}
	reason := strings.TrimPrefix(err.Error(), ErrSecret.Error()+": ")
	return &Error{Scheme: scheme, Err: ErrSecret, Detail: detail + ": " + reason}
}
