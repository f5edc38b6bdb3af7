package secretbox

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{7}, KeySize)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("whsec_c2VjcmV0")
	s1, _ := b.Seal(msg)
	s2, _ := b.Seal(msg)
	if bytes.Equal(s1, s2) {
		t.Error("two seals of the same value are equal: nonce reused")
	}
	if bytes.Contains(s1, msg) {
		t.Error("sealed value contains the plaintext")
	}
	got, err := b.Open(s1)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	s1[len(s1)-1] ^= 1
	if _, err := b.Open(s1); err == nil {
		t.Error("Open accepted an altered value")
	}
	other, _ := New(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(s2); err == nil {
		t.Error("Open accepted a value sealed with another key")
	}
	if _, err := b.Open([]byte{1, 2}); err == nil {
		t.Error("Open accepted a short value")
	}
	if _, err := New(key[:16]); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}

func TestKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatalf("second load = %x, %v; want %x", k2, err, k1)
	}
	if _, err := ParseKey(base64.RawURLEncoding.EncodeToString(k1)); err != nil {
		t.Errorf("ParseKey(raw url) = %v", err)
	}
	if _, err := ParseKey("not base64!"); err == nil {
		t.Error("ParseKey accepted garbage")
	}
	if _, err := ParseKey(base64.StdEncoding.EncodeToString([]byte("short"))); err == nil {
		t.Error("ParseKey accepted a short key")
	}
}
