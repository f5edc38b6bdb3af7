package store

import (
	"encoding/json"
	"fmt"
	"time"
)

// SealedSecret is the JSON form a Secret takes inside a sealed value. Every
// Store implementation uses it, so that sealed columns move unchanged
// between backends (export and import carry them as stored).
type SealedSecret struct {
	Value     string `json:"value"`
	CreatedAt int64  `json:"created_at"` // unix milliseconds
	ExpiresAt *int64 `json:"expires_at,omitempty"`
}

// ToSealed converts a Secret to its sealed JSON form.
func ToSealed(s Secret) SealedSecret {
	out := SealedSecret{Value: s.Value, CreatedAt: s.CreatedAt.UnixMilli()}
	if s.ExpiresAt != nil {
		v := s.ExpiresAt.UnixMilli()
		out.ExpiresAt = &v
	}
	return out
}

// FromSealed converts a sealed JSON form back to a Secret.
func FromSealed(s SealedSecret) Secret {
	out := Secret{Value: s.Value, CreatedAt: time.UnixMilli(s.CreatedAt).UTC()}
	if s.ExpiresAt != nil {
		t := time.UnixMilli(*s.ExpiresAt).UTC()
		out.ExpiresAt = &t
	}
	return out
}

// SealSecrets encodes secrets and seals them with c.
func SealSecrets(c Cipher, secrets []Secret) ([]byte, error) {
	list := make([]SealedSecret, len(secrets))
	for i, sec := range secrets {
		list[i] = ToSealed(sec)
	}
	b, err := json.Marshal(list)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err := c.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	return sealed, nil
}

// OpenSecrets opens what SealSecrets sealed. An empty list is nil.
func OpenSecrets(c Cipher, sealed []byte) ([]Secret, error) {
	b, err := c.Open(sealed)
	if err != nil {
		return nil, fmt.Errorf("open secrets: %w", err)
	}
	var list []SealedSecret
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("decode secrets: %w", err)
	}
	if len(list) == 0 {
		return nil, nil
	}
	out := make([]Secret, len(list))
	for i, sec := range list {
		out[i] = FromSealed(sec)
	}
	return out, nil
}

// LiveSecrets returns a copy of secrets without those expired at now.
func LiveSecrets(secrets []Secret, now time.Time) []Secret {
	var out []Secret
	for _, sec := range secrets {
		if sec.ExpiresAt != nil && !sec.ExpiresAt.After(now) {
			continue
		}
		out = append(out, sec)
	}
	return out
}

// sealedSource is how a source's secrets and Zoom secret are serialized
// before sealing, by every store.
type sealedSource struct {
	Secrets []SealedSecret `json:"secrets"`
	Zoom    *SealedSecret  `json:"zoom,omitempty"`
}

// SealSource encodes src's Secrets and ZoomSecret (when it has a Value)
// together and seals them with c: a source's secrets column.
func SealSource(c Cipher, src *Source) ([]byte, error) {
	v := sealedSource{Secrets: make([]SealedSecret, len(src.Secrets))}
	for i, sec := range src.Secrets {
		v.Secrets[i] = ToSealed(sec)
	}
	if src.ZoomSecret.Value != "" {
		z := ToSealed(src.ZoomSecret)
		v.Zoom = &z
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode secrets: %w", err)
	}
	sealed, err := c.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("seal secrets: %w", err)
	}
	return sealed, nil
}

// OpenSource opens what SealSource sealed into src's Secrets (every one,
// expired included) and ZoomSecret.
func OpenSource(c Cipher, src *Source, sealed []byte) error {
	b, err := c.Open(sealed)
	if err != nil {
		return fmt.Errorf("open secrets: %w", err)
	}
	var v sealedSource
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode secrets: %w", err)
	}
	src.Secrets = nil
	for _, sec := range v.Secrets {
		src.Secrets = append(src.Secrets, FromSealed(sec))
	}
	if v.Zoom != nil {
		src.ZoomSecret = FromSealed(*v.Zoom)
	}
	return nil
}
