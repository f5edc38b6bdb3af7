package sqlite

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
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`INSERT INTO ui_sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?)`,
			sess.TokenHash, sess.Kind, sess.KeyID, sess.Tenant, ms(sess.CreatedAt), ms(sess.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns the live session whose token hash is hash (see
// store.Sessions) or ErrNotFound.
func (s *Store) SessionByHash(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	row, err := s.queryRow(ctx, `SELECT `+sessionCols+` FROM ui_sessions
		WHERE token_hash = ? AND expires_at > ?
		AND (kind <> 'admin' OR EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = ui_sessions.key_id AND revoked_at IS NULL))`,
		hash, ms(now))
	if err != nil {
		return nil, fmt.Errorf("session by hash: %w", err)
	}
	var (
		sess             store.Session
		created, expires int64
	)
	if err := row.Scan(&sess.TokenHash, &sess.Kind, &sess.KeyID, &sess.Tenant, &created, &expires); err != nil {
		return nil, fmt.Errorf("session by hash: %w", interpretError(err))
	}
	sess.CreatedAt, sess.ExpiresAt = fromMS(created), fromMS(expires)
	return &sess, nil
}

// DeleteSession deletes the session whose token hash is hash, if any.
func (s *Store) DeleteSession(ctx context.Context, hash []byte) error {
	err := s.write(ctx, func(w *writer) error {
		_, err := w.exec(`DELETE FROM ui_sessions WHERE token_hash = ?`, hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes the expired sessions and those of revoked or
// deleted API keys, and returns how many.
func (s *Store) PruneSessions(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.write(ctx, func(w *writer) error {
		var err error
		n, err = w.exec(`DELETE FROM ui_sessions WHERE expires_at <= ?
			OR (kind = 'admin' AND NOT EXISTS (SELECT 1 FROM api_keys WHERE api_keys.id = ui_sessions.key_id AND revoked_at IS NULL))`, ms(now))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}
