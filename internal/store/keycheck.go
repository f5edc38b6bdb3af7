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

// ReadBytes reads the one []byte column of the first row query returns;
// ok is false when it returns none. It is what CheckKey needs of a store.
type ReadBytes func(ctx context.Context, query string) (v []byte, ok bool, err error)

// The queries CheckKey hands to ReadBytes: the same text on every store.
var keyCheckQueries = []struct{ what, query string }{
	{"an endpoint's secrets", `SELECT secrets FROM endpoints LIMIT 1`},
	{"a source's secrets", `SELECT secrets FROM sources LIMIT 1`},
}

// CheckKey is KeyChecker.CheckKey for a store whose secrets c seals and
// whose rows read reads.
func CheckKey(ctx context.Context, c Cipher, read ReadBytes) (KeyState, error) {
	v, ok, err := read(ctx, `SELECT value FROM meta WHERE name = '`+KeyCheckName+`'`)
	if err != nil {
		return KeyState{}, fmt.Errorf("check key: %w", err)
	}
	if ok {
		if pt, err := c.Open(v); err != nil || !bytes.Equal(pt, keyCheckText) {
			return KeyState{}, fmt.Errorf("check key: key check value: %w", ErrWrongKey)
		}
		return KeyState{Recorded: true}, nil
	}
	var st KeyState
	for _, q := range keyCheckQueries {
		sealed, ok, err := read(ctx, q.query)
		if err != nil {
			return KeyState{}, fmt.Errorf("check key: %w", err)
		}
		if !ok {
			continue
		}
		if _, err := c.Open(sealed); err != nil {
			return KeyState{}, fmt.Errorf("check key: %s: %w", q.what, ErrWrongKey)
		}
		st.Sealed = true
	}
	return st, nil
}

// RecordKey is KeyChecker.RecordKey for a store whose secrets c seals:
// check is its CheckKey, and insert stores the check value v under
// KeyCheckName unless a value is stored there already (the first of
// concurrent inserts wins).
func RecordKey(ctx context.Context, c Cipher, check func(context.Context) (KeyState, error), insert func(ctx context.Context, v []byte) error) error {
	if _, err := check(ctx); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	v, err := c.Seal(keyCheckText)
	if err != nil {
		return fmt.Errorf("record key: seal key check: %w", err)
	}
	if err := insert(ctx, v); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	if _, err := check(ctx); err != nil {
		return fmt.Errorf("record key: %w", err)
	}
	return nil
}
