package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const apiKeyCols = `id, name, hash, prefix, created_at, last_used_at, revoked_at, tenant, scopes`

func scanAPIKey(r scanner) (*store.APIKey, error) {
	var (
		k             store.APIKey
		created       int64
		used, revoked sql.NullInt64
		tenant        sql.NullString
		scopes        string
	)
	if err := r.Scan(&k.ID, &k.Name, &k.Hash, &k.Prefix, &created, &used, &revoked, &tenant, &scopes); err != nil {
		return nil, interpretError(err)
	}
	k.CreatedAt = fromMS(created)
	k.LastUsedAt, k.RevokedAt = fromNullMS(used), fromNullMS(revoked)
	if tenant.Valid {
		k.Tenant = &tenant.String
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

func nullTenant(t *string) any {
	if t == nil {
		return nil
	}
	return *t
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
	err = s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.Name, k.Hash, k.Prefix, ms(k.CreatedAt), nullMS(k.LastUsedAt), nullMS(k.RevokedAt),
			nullTenant(k.Tenant), scopes)
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

// GetAPIKey returns the key with this id, revoked or not, or ErrNotFound.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*store.APIKey, error) {
	row, err := s.queryRow(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get api key %s: %w", id, err)
	}
	k, err := scanAPIKey(row)
	if err != nil {
		return nil, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// TouchAPIKey records the key's use at at, at most once per
// store.KeyUseInterval, writing only last_used_at.
func (s *Store) TouchAPIKey(ctx context.Context, id string, at time.Time) (bool, error) {
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var err error
		n, err = w.exec(`UPDATE api_keys SET last_used_at = ?1 WHERE id = ?2 AND (last_used_at IS NULL OR last_used_at <= ?1 - ?3)`,
			ms(at), id, store.KeyUseInterval.Milliseconds())
		return err
	})
	if err != nil {
		return false, fmt.Errorf("touch api key %s: %w", id, err)
	}
	return n > 0, nil
}

const auditCols = `id, at, actor_kind, actor_id, tenant, action, target, remote_addr, detail`

// AddAudit appends e to the audit log.
func (s *Store) AddAudit(ctx context.Context, e *store.AuditEntry) error {
	if e.ID == "" || e.At.IsZero() {
		return errors.New("add audit entry: id and time are required")
	}
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO audit_log (`+auditCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, ms(e.At), e.ActorKind, e.ActorID, nullTenant(e.Tenant), e.Action, e.Target, e.RemoteAddr, e.Detail)
		return err
	})
	if err != nil {
		return fmt.Errorf("add audit entry %s: %w", e.ID, err)
	}
	return nil
}

func scanAudit(r scanner) (*store.AuditEntry, error) {
	var (
		e      store.AuditEntry
		at     int64
		tenant sql.NullString
	)
	if err := r.Scan(&e.ID, &at, &e.ActorKind, &e.ActorID, &tenant, &e.Action, &e.Target, &e.RemoteAddr, &e.Detail); err != nil {
		return nil, interpretError(err)
	}
	e.At = fromMS(at)
	if tenant.Valid {
		e.Tenant = &tenant.String
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
		where = append(where, "tenant = ?")
		args = append(args, *f.Tenant)
	}
	q, args := store.IDPageQuery(`SELECT `+auditCols+` FROM audit_log`, where, args, f.Cursor, limit, qmark)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, scanAudit)
	if err != nil {
		return nil, "", fmt.Errorf("list audit log: %w", err)
	}
	out, next := store.TrimPage(out, limit, func(e *store.AuditEntry) string { return e.ID })
	return out, next, nil
}
