package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hookrelay/hookrelay/internal/store"
)

var _ store.KeyChecker = (*Store)(nil)

// CheckKey compares the store's Cipher with the database; see
// store.KeyChecker.
func (s *Store) CheckKey(ctx context.Context) (store.KeyState, error) {
	return store.CheckKey(ctx, s.cipher, s.readBytes)
}

// RecordKey records a check value of the store's Cipher unless one is
// recorded; see store.KeyChecker.
func (s *Store) RecordKey(ctx context.Context) error {
	return store.RecordKey(ctx, s.cipher, s.CheckKey, func(ctx context.Context, v []byte) error {
		return s.write(ctx, func(w *writer) error {
			_, err := w.exec(`INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, store.KeyCheckName, v)
			return err
		})
	})
}

// readBytes is a store.ReadBytes on the read pool.
func (s *Store) readBytes(ctx context.Context, query string) ([]byte, bool, error) {
	var v []byte
	err := s.rdb.QueryRowContext(ctx, query).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, interpretError(err)
	}
	return v, true, nil
}
