package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const sessionCols = `token_hash, kind, key_id, tenant, created_at, expires_at`

// CreateSession inserts sess. ErrConflict if its token hash exists.
func (s *Store) CreateSession(ctx context.Context, sess *store.Session) error {
	if len(sess.TokenHash) == 0 || sess.Kind == "" {
		return errors.New("create session: token hash and kind are required")
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO ui_sessions (`+sessionCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		sess.TokenHash, sess.Kind, cleanText(sess.KeyID), cleanText(sess.Tenant), ms(sess.CreatedAt), ms(sess.ExpiresAt)); err != nil {
		return fmt.Errorf("create session: %w", interpretError(err))
	}
	return nil
}

// SessionByHash returns the live session whose token hash is hash (see
// store.Sessions) or ErrNotFound.
func (s *Store) SessionByHash(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	var (
		sess             store.Session
		created, expires int64
	)
	err := s.pool.QueryRow(ctx, `SELECT `+sessionCols+` FROM ui_sessions
		WHERE token_hash = $1 AND expires_at > $2
		AND (kind <> 'admin' OR EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = ui_sessions.key_id AND revoked_at IS NULL))`,
		hash, ms(now)).Scan(&sess.TokenHash, &sess.Kind, &sess.KeyID, &sess.Tenant, &created, &expires)
	if err != nil {
		return nil, fmt.Errorf("session by hash: %w", interpretError(err))
	}
	sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(expires)
	return &sess, nil
}

// DeleteSession deletes the session whose token hash is hash, if any.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM ui_sessions WHERE token_hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", interpretError(err))
	}
	return nil
}

// PruneSessions deletes the expired sessions and those of revoked or
// deleted API keys, and returns how many.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM ui_sessions WHERE expires_at <= $1
		OR (kind = 'admin' AND NOT EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = ui_sessions.key_id AND revoked_at IS NULL))`, ms(now))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", interpretError(err))
	}
	return tag.RowsAffected(), nil
}
