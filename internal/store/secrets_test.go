package store

import (
	"bytes"
	"testing"
	"time"
)

// xorCipher is a reversible stand-in for AES-GCM, enough to check the
// encoding around it.
type xorCipher struct{}

func (xorCipher) Seal(p []byte) ([]byte, error) { return xor(p), nil }
func (xorCipher) Open(c []byte) ([]byte, error) { return xor(c), nil }
func xor(b []byte) []byte {
	out := bytes.Clone(b)
	for i := range out {
		out[i] ^= 0x5a
	}
	return out
}

func TestSealedSecrets(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_700_000_000_123).UTC()
	exp := now.Add(time.Hour)
	in := []Secret{{Value: "new", CreatedAt: now}, {Value: "old", CreatedAt: now.Add(-time.Hour), ExpiresAt: &exp}}
	sealed, err := SealSecrets(xorCipher{}, in)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON inside is the cross-backend format; keep it stable.
	want := `[{"value":"new","created_at":1700000000123},{"value":"old","created_at":1699996400123,"expires_at":1700003600123}]`
	if got := string(xor(sealed)); got != want {
		t.Errorf("sealed JSON = %s, want %s", got, want)
	}
	out, err := OpenSecrets(xorCipher{}, sealed)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Value != "new" || !out[0].CreatedAt.Equal(now) || out[0].ExpiresAt != nil || !out[1].ExpiresAt.Equal(exp) {
		t.Errorf("OpenSecrets = %+v", out)
	}
	if live := LiveSecrets(out, exp); len(live) != 1 || live[0].Value != "new" {
		t.Errorf("LiveSecrets at expiry = %+v, want only the new secret", live)
	}
	if _, err := OpenSecrets(xorCipher{}, []byte("not json")); err == nil {
		t.Error("OpenSecrets accepted garbage")
	}
}
