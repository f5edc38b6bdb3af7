package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const apiKeyCols = `id, name, hash, prefix, created_at, last_used_at, revoked_at`

func scanAPIKey(r scanner) (*store.APIKey, error) {
	var (
		k             store.APIKey
		created       int64
		used, revoked sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &created, &used, &revoked); err != nil {
		return nil, interpretError(err)
	}
	k.CreatedAt = fromMS(created)
	k.LastUsedAt, k.RevokedAt = fromNullMS(used), fromNullMS(revoked)
	return &k, nil
}

// CreateAPIKey inserts k. ErrConflict if its id or hash exists.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	if k.ID == "" || len(k.Hash) == 0 {
		return errors.New("create api key: id and hash are required")
	}
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Hash, k.Prefix, ms(k.CreatedAt), nullMS(k.LastUsedAt), nullMS(k.RevokedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.ID, err)
	}
	return nil
}

// APIKeyByHash returns the unrevoked key with this hash or ErrNotFound.
func (s *Store) APIKeyByHash(ctx context.Context, hash []byte) (*store.APIKey, error) {
	row, err := s.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE hash = ? AND revoked_at IS NULL`, hash)
	if err != nil {
		return nil, fmt.Errorf("api key by hash: %w", err)
	}
	k, err := scanAPIKey(row)
	if err != nil {
		return nil, fmt.Errorf("api key by hash: %w", err)
	}
	return k, nil
}

// ListAPIKeys returns every key, revoked ones included, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]*store.APIKey, error) {
	rows, err := s.query(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY id DESC`)
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
	err := s.write(ctx, func(w *writer) error {
		n, err := w.exec(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, ms(at), id)
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke api key %s: %w", id, err)
	}
	return nil
}

// CountEndpoints counts the endpoints of tenant, up to max.
func (s *Store) CountEndpoints(ctx context.Context, tenant string, max int) (int, error) {
	var n int
	row, err := s.queryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM endpoints WHERE tenant = ? LIMIT ?)`, tenant, max)
	if err == nil {
		err = row.Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count endpoints of tenant %q: %w", tenant, err)
	}
	return n, nil
}

// CountAPIKeys returns the number of unrevoked keys.
func (s *Store) CountAPIKeys(ctx context.Context) (int, error) {
	var n int
	row, err := s.queryRow(ctx, `SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`)
	if err == nil {
		err = row.Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("count api keys: %w", err)
	}
	return n, nil
}
