package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

var _ store.KeyChecker = (*Store)(nil)

// CheckKey compares the store's Cipher with the database; see
// store.KeyChecker.
func (s *Store) CheckKey(ctx context.Context) (store.KeyState, error) {
	var v []byte
	err := s.pool.QueryRow(ctx, `SELECT value FROM meta WHERE name = $1`, store.KeyCheckName).Scan(&v)
	switch {
	case err == nil:
		if err := store.OpenKeyCheck(s.cipher, v); err != nil {
			return store.KeyState{}, fmt.Errorf("check key: %w", err)
		}
		return store.KeyState{Recorded: true}, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return store.KeyState{}, fmt.Errorf("check key: %w", interpretError(err))
	}
	var st store.KeyState
	for _, q := range []struct{ what, query string }{
		{"an endpoint's secrets", `SELECT secrets FROM endpoints LIMIT 1`},
		{"a source's secrets", `SELECT secrets FROM sources LIMIT 1`},
	} {
		var sealed []byte
		err := s.pool.QueryRow(ctx, q.query).Scan(&sealed)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return store.KeyState{}, fmt.Errorf("check key: %w", interpretError(err))
		}
		if err := store.OpenSealed(s.cipher, q.what, sealed); err != nil {
			return store.KeyState{}, fmt.Errorf("check key: %w", err)
		}
		st.Sealed = true
	}
	return st, nil
}

// RecordKey records a check value of the store's Cipher unless one is
// recorded; see store.KeyChecker. Of nodes that record at once, the first
// insert wins and the others check their key against it.
func (s *Store) RecordKey(ctx context.Context) error {
	if _, err := s.CheckKey(ctx); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	v, err := store.SealKeyCheck(s.cipher)
	if err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, store.KeyCheckName, v); err != nil {
		return fmt.Errorf("record key: %w", interpretError(err))
	}
	if _, err := s.CheckKey(ctx); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	return nil
}
