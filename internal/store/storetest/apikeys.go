package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func newAPIKey(name string) (*store.APIKey, []byte) {
	key := "hr_" + randomString(40)
	sum := sha256.Sum256([]byte(key))
	return &store.APIKey{
		ID:        store.NewID("key"),
		Name:      name,
		Hash:      sum[:],
		Prefix:    key[:8],
		CreatedAt: now(),
	}, sum[:]
}

func testAPIKeys(h *harness) {
	if n, err := h.s.CountAPIKeys(h.ctx); err != nil || n != 0 {
		h.Fatalf("CountAPIKeys on an empty store = %d, %v", n, err)
	}
	k1, hash1 := newAPIKey("ci")
	if err := h.s.CreateAPIKey(h.ctx, k1); err != nil {
		h.Fatalf("CreateAPIKey: %v", err)
	}
	dup, _ := newAPIKey("dup")
	dup.Hash = hash1
	wantErr(h, "CreateAPIKey with a taken hash", h.s.CreateAPIKey(h.ctx, dup), store.ErrConflict)

	got, err := h.s.APIKeyByHash(h.ctx, hash1)
	if err != nil {
		h.Fatalf("APIKeyByHash: %v", err)
	}
	if got.ID != k1.ID || got.Name != "ci" || !bytes.Equal(got.Hash, hash1) || got.Prefix != k1.Prefix ||
		!got.CreatedAt.Equal(k1.CreatedAt) || got.LastUsedAt != nil || got.RevokedAt != nil {
		h.Fatalf("APIKeyByHash = %+v, want %+v", got, k1)
	}
	_, err = h.s.APIKeyByHash(h.ctx, make([]byte, 32))
	wantErr(h, "APIKeyByHash(unknown)", err, store.ErrNotFound)

	k2, hash2 := newAPIKey("deploy")
	if err := h.s.CreateAPIKey(h.ctx, k2); err != nil {
		h.Fatalf("CreateAPIKey: %v", err)
	}
	if n, err := h.s.CountAPIKeys(h.ctx); err != nil || n != 2 {
		h.Fatalf("CountAPIKeys = %d, %v; want 2", n, err)
	}

	revokedAt := now().Add(time.Minute)
	if err := h.s.RevokeAPIKey(h.ctx, k1.ID, revokedAt); err != nil {
		h.Fatalf("RevokeAPIKey: %v", err)
	}
	_, err = h.s.APIKeyByHash(h.ctx, hash1)
	wantErr(h, "APIKeyByHash(revoked)", err, store.ErrNotFound)
	if _, err := h.s.APIKeyByHash(h.ctx, hash2); err != nil {
		h.Fatalf("APIKeyByHash(other key): %v", err)
	}
	if n, err := h.s.CountAPIKeys(h.ctx); err != nil || n != 1 {
		h.Fatalf("CountAPIKeys after a revocation = %d, %v; want 1", n, err)
	}
	list, err := h.s.ListAPIKeys(h.ctx)
	if err != nil || len(list) != 2 {
		h.Fatalf("ListAPIKeys = %d keys, %v; want 2", len(list), err)
	}
	for _, k := range list {
		switch k.ID {
		case k1.ID:
			if !sameTimePtr(k.RevokedAt, &revokedAt) {
				h.Fatalf("revoked key RevokedAt = %s, want %s", fmtTimePtr(k.RevokedAt), revokedAt)
			}
		case k2.ID:
			if k.RevokedAt != nil || k.Name != "deploy" {
				h.Fatalf("listed key = %+v", k)
			}
		default:
			h.Fatalf("unknown key %s listed", k.ID)
		}
	}
	wantErr(h, "RevokeAPIKey(missing)", h.s.RevokeAPIKey(h.ctx, "key_missing", revokedAt), store.ErrNotFound)
	if err := h.s.RevokeAPIKey(h.ctx, k1.ID, revokedAt.Add(time.Hour)); err != nil {
		h.Fatalf("revoking twice: %v", err)
	}
	if n, _ := h.s.CountAPIKeys(h.ctx); n != 1 {
		h.Fatalf("CountAPIKeys after revoking twice = %d, want 1", n)
	}
}
