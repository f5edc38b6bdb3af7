package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
)

// ErrWrongKey: the store's Cipher is not the key that sealed the database's
// secrets. CheckKey and RecordKey return it.
var ErrWrongKey = errors.New("the secret key is not the one the database's secrets were sealed with")

// KeyChecker is implemented by stores that keep, in the database, a check
// value of the key that seals their secrets: a known text sealed with the
// Cipher. Opening it with the Cipher a store was opened with tells at start
// whether that is the right key, on any database, even one that holds no
// secret yet; without it a new key on a database of sources would only be
// noticed at their first request. Both hookrelay stores implement it.
type KeyChecker interface {
	// CheckKey compares the store's Cipher with the database. With a
	// check value recorded it returns Recorded, or ErrWrongKey if the
	// Cipher does not open it. Without one (a new database, or one from
	// before check values) it opens a sealed secret of an endpoint and of
	// a source, if the database has any, and returns ErrWrongKey if one
	// does not open; Sealed says whether there was any.
	CheckKey(ctx context.Context) (KeyState, error)
	// RecordKey records a check value sealed with the store's Cipher
	// unless one is recorded, in one statement that keeps the first of
	// concurrent callers' values, and then checks the key as CheckKey
	// does: a node that started at the same moment with another key gets
	// ErrWrongKey. It refuses to record a check value, with ErrWrongKey,
	// when the database holds secrets the Cipher does not open.
	RecordKey(ctx context.Context) error
}

// KeyState is what CheckKey found.
type KeyState struct {
	// Recorded: the database holds a check value, which the Cipher opens.
	Recorded bool
	// Sealed: the database holds a sealed secret (an endpoint's or a
	// source's), which the Cipher opens. Set only when Recorded is not.
	Sealed bool
}

// keyCheckText is the known text a check value seals.
var keyCheckText = []byte("hookrelay secret key check, version 1")

// KeyCheckName is the name of the check value in a store's table of
// settings (meta).
const KeyCheckName = "key_check"

// SealKeyCheck returns a check value of c's key, for RecordKey.
func SealKeyCheck(c Cipher) ([]byte, error) {
	v, err := c.Seal(keyCheckText)
	if err != nil {
		return nil, fmt.Errorf("seal key check: %w", err)
	}
	return v, nil
}

// OpenKeyCheck returns nil if c opens the check value v, else an error
// wrapping ErrWrongKey.
func OpenKeyCheck(c Cipher, v []byte) error {
	pt, err := c.Open(v)
	if err != nil || !bytes.Equal(pt, keyCheckText) {
		return fmt.Errorf("key check value: %w", ErrWrongKey)
	}
	return nil
}

// OpenSealed returns nil if c opens the sealed value v of what (for
// messages), else an error wrapping ErrWrongKey.
func OpenSealed(c Cipher, what string, v []byte) error {
	if _, err := c.Open(v); err != nil {
		return fmt.Errorf("%s: %w", what, ErrWrongKey)
	}
	return nil
}
