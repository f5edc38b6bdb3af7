package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const apiKeyCols = `id, name, hash, prefix, created_at, last_used_at, revoked_at, tenant, scopes`

func scanAPIKey(r store.RowScanner) (*store.APIKey, error) {
	var (
		k      store.APIKey
		scopes string
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, msDest{&k.CreatedAt}, nullMSDest{&k.LastUsedAt},
		nullMSDest{&k.RevokedAt}, &k.Tenant, &scopes); err != nil {
		return nil, interpretError(err)
	}
	if err := json.Unmarshal([]byte(scopes), &k.Scopes); err != nil {
		return nil, fmt.Errorf("api key %s: decode scopes: %w", k.ID, err)
	}
	k.Scopes = store.KeyScopes(k.Scopes)
	return &k, nil
}

// scopesJSON is the scopes column of a key.
func scopesJSON(scopes []string) (string, error) {
	b, err := json.Marshal(store.KeyScopes(scopes))
	return string(b), err
}

// CreateAPIKey inserts k. ErrConflict if its id or hash exists.
func (s *Store) CreateAPIKey(ctx context.Context, k *store.APIKey) error {
	if k.ID == "" || len(k.Hash) == 0 {
		return errors.New("create api key: id and hash are required")
	}
	scopes, err := scopesJSON(k.Scopes)
	if err != nil {
		return fmt.Errorf("create api key %s: %w", k.ID, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Name, k.Hash, k.Prefix, ms(k.CreatedAt), nullMS(k.LastUsedAt), nullMS(k.RevokedAt), k.Tenant, scopes); err != nil {
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

// GetAPIKey returns the key with this id, revoked or not, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*store.APIKey, error) {
	k, err := scanAPIKey(s.pool.QueryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// TouchAPIKey records the key's use at at, at most once per
// store.KeyUseInterval across every node, writing only last_used_at.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $1::bigint - $3::bigint)`,
		ms(at), id, store.KeyUseInterval.Milliseconds())
	if err != nil {
		return false, fmt.Errorf("touch api key %s: %w", id, interpretError(err))
	}
	return tag.RowsAffected() > 0, nil
}

const auditCols = `id, at, actor_kind, actor_id, tenant, action, target, remote_addr, detail`

// AddAudit appends e to the audit log.
func (s *Store) AddAudit(ctx context.Context, e *store.AuditEntry) error {
	if e.ID == "" || e.At.IsZero() {
		return errors.New("add audit entry: id and time are required")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO audit_log (`+auditCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		e.ID, ms(e.At), e.ActorKind, e.ActorID, e.Tenant, e.Action, e.Target, e.RemoteAddr, e.Detail); err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.ID, interpretError(err))
	}
	return nil
}

func scanAudit(r store.RowScanner) (*store.AuditEntry, error) {
	var e store.AuditEntry
	if err := r.Scan(&e.ID, msDest{&e.At}, &e.ActorKind, &e.ActorID, &e.Tenant, &e.Action, &e.Target, &e.RemoteAddr, &e.Detail); err != nil {
		return nil, interpretError(err)
	}
	return &e, nil
}

// ListAudit returns a page of audit entries, newest first.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]*store.AuditEntry, string, error) {
	limit := pageLimit(f.Page)
	var (
		where []string
		args  []any
	)
	if f.Tenant != nil {
		args = append(args, *f.Tenant)
		where = append(where, "tenant = $"+strconv.Itoa(len(args)))
	}
	q, args := store.IDPageQuery(`SELECT `+auditCols+` FROM audit_log`, where, args, f.Cursor, limit, dollar)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", interpretError(err))
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(e *store.AuditEntry) string { return e.ID })
	return out, next, nil
}
