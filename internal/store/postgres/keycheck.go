package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

var _ store.KeyChecker = (*Store)(nil)

// CheckKey compares the store's Cipher with the database; see
// store.KeyChecker.
func (s *Store) CheckKey(ctx context.Context) (store.KeyState, error) {
	return store.CheckKey(ctx, s.cipher, s.readBytes)
}

// RecordKey records a check value of the store's Cipher unless one is
// recorded; see store.KeyChecker. Of nodes that record at once, the first
// insert wins and the others check their key against it.
func (s *Store) RecordKey(ctx context.Context) error {
	return store.RecordKey(ctx, s.cipher, s.CheckKey, func(ctx context.Context, v []byte) error {
		_, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, store.KeyCheckName, v)
		return interpretError(err)
	})
}

// readBytes is a store.ReadBytes on the pool.
func (s *Store) readBytes(ctx context.Context, query string) ([]byte, bool, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, query).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, interpretError(err)
	}
	return v, true, nil
}
