package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const apiKeyCols = `id, name, hash, prefix, created_at, last_used_at, revoked_at`

func scanAPIKey(r store.RowScanner) (*store.APIKey, error) {
	var k store.APIKey
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, msDest{&k.CreatedAt}, nullMSDest{&k.LastUsedAt},
		nullMSDest{&k.RevokedAt}); err != nil {
		return nil, interpretError(err)
	}
	return &k, nil
}

// CreateAPIKey inserts k. ErrConflict if its id or hash exists.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	if k.ID == "" || len(k.Hash) == 0 {
		return errors.New("create api key: id and hash are required")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		k.ID, k.Name, k.Hash, k.Prefix, ms(k.CreatedAt), nullMS(k.LastUsedAt), nullMS(k.RevokedAt)); err != nil {
		return fmt.Errorf("create api key %s: %w", k.ID, interpretError(err))
	}
	return nil
}

// APIKeyByHash returns the unrevoked key with this hash or ErrNotFound.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL`, hash))
	if err != nil {
		return nil, fmt.Errorf("api key by hash: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, revoked ones included, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]*store.APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanAPIKey)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a key by id; revoking a revoked key keeps its first
// revocation time. ErrNotFound if there is none.
func (s *Store) RevokeAPIKey(ctx context.Context, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, ms(at), id)
	if err == nil && tag.RowsAffected() == 0 {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return nil
}

// CountEndpoints counts the endpoints of tenant, up to max.
func (s *Store) CountEndpoints(ctx context.Context, tenant string, max int) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM endpoints WHERE tenant = $1 LIMIT $2) AS t`, tenant, max).Scan(&n); err != nil {
		return 0, fmt.Errorf("count endpoints of tenant %q: %w", tenant, interpretError(err))
	}
	return n, nil
}

// CountAPIKeys returns the number of unrevoked keys.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count api keys: %w", err)
	}
	return n, nil
}
