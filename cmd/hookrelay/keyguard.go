package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hookrelay/hookrelay/internal/store"
)

// keyOrigin is where serve's secret key comes from.
type keyOrigin int

const (
	keyFromEnv  keyOrigin = iota // HOOKRELAY_SECRET_KEY
	keyFromFile                  // DIR/secret.key, there before this start
	keyCreated                   // DIR/secret.key, created by this start
)

// keyGuard keeps serve from running with a secret key and a database that
// do not belong together, which used to go unnoticed:
//
//   - secret.key lost, database with secrets: a new key was created, and
//     every secret sealed with the old one failed at its first use (each
//     inbound request 503, the sources API 500).
//   - hookrelay.db lost or emptied, secret.key still there: taken as a new
//     installation, with a new admin key printed.
//   - HOOKRELAY_SECRET_KEY or secret.key of another installation.
//
// The rule: a secret key may only be new when the database holds no sealed
// secret at all; and once a database has seen a key it records a check
// value of it (store.KeyChecker), which every later start compares. Make
// it with newKeyGuard before the store is opened (opening creates a
// missing key file and database), and call check once it is.
type keyGuard struct {
	dataDir string
	sqlite  bool // the database is DIR/hookrelay.db, next to the key file
	origin  keyOrigin
}

// newKeyGuard notes where the key will come from, and refuses at once the
// case that needs no database: a SQLite database that is missing or empty
// next to a key file that exists.
func newKeyGuard(cfg *serveConfig) (*keyGuard, error) {
	g := &keyGuard{dataDir: cfg.DataDir, sqlite: cfg.DatabaseURL == "", origin: keyFromEnv}
	if cfg.SecretKey == nil {
		g.origin = keyCreated
		if _, err := os.Stat(g.path(secretKeyFile)); err == nil {
			g.origin = keyFromFile
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("secret key file: %w", err)
		}
	}
	if !g.sqlite || g.origin != keyFromFile {
		return g, nil
	}
	fi, err := os.Stat(g.path(dbFileName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, g.lostDatabase("is missing")
	case err != nil:
		return nil, fmt.Errorf("database file: %w", err)
	case fi.Size() == 0:
		return nil, g.lostDatabase("is empty")
	}
	return g, nil
}

// check compares the opened store with the key, and records the key's
// check value in a database that has none. On refusal it removes a key
// file this start created, so that the data directory stays as the
// operator left it.
func (g *keyGuard) check(ctx context.Context, st store.Store) (err error) {
	defer func() {
		if err != nil && g.origin == keyCreated {
			if rerr := os.Remove(g.path(secretKeyFile)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				err = errors.Join(err, fmt.Errorf("remove the new secret key file: %w", rerr))
			}
		}
	}()
	kc, ok := st.(store.KeyChecker)
	if !ok {
		return nil
	}
	state, err := kc.CheckKey(ctx)
	if errors.Is(err, store.ErrWrongKey) {
		return g.wrongKey()
	}
	if err != nil {
		return fmt.Errorf("check the secret key: %w", err)
	}
	if state.Recorded {
		return nil
	}
	if g.sqlite && g.origin == keyFromFile && !state.Sealed {
		n, err := st.CountAPIKeys(ctx)
		if err != nil {
			return fmt.Errorf("check the database: %w", err)
		}
		if n == 0 {
			// No key check, no secret, no API key: a database that
			// never served, next to a key that did.
			return g.lostDatabase("holds nothing")
		}
	}
	if err := kc.RecordKey(ctx); errors.Is(err, store.ErrWrongKey) {
		return g.wrongKey()
	} else if err != nil {
		return fmt.Errorf("record the secret key's check value: %w", err)
	}
	return nil
}

func (g *keyGuard) path(name string) string { return filepath.Join(g.dataDir, name) }

// wrongKey says what is wrong when the key does not open the database.
func (g *keyGuard) wrongKey() error {
	switch g.origin {
	case keyCreated:
		return fmt.Errorf("%s is missing, but the database belongs to a secret key (it holds the key's check value, or secrets sealed with it): the key was lost. "+
			"Restore secret.key from a backup into %s (or set HOOKRELAY_SECRET_KEY to the key) and start again. "+
			"No new key was kept: what was sealed with the old one could never be opened with it",
			g.path(secretKeyFile), g.dataDir)
	case keyFromFile:
		return fmt.Errorf("%s is not the secret key the database's secrets were sealed with "+
			"(was it replaced, or is it another installation's?): restore the right secret.key from a backup, "+
			"or set HOOKRELAY_SECRET_KEY to the right key", g.path(secretKeyFile))
	}
	return errors.New("HOOKRELAY_SECRET_KEY is not the secret key the database's secrets were sealed with: " +
		"set it to the right key (every node sharing a database needs the same one), " +
		"or unset it to use the key file in the data directory")
}

// lostDatabase says what is wrong when the key file is older than the
// SQLite database.
func (g *keyGuard) lostDatabase(state string) error {
	return fmt.Errorf("%s %s, but %s exists from an earlier start: the database was lost or moved. "+
		"Restore hookrelay.db from a backup into %s (or pass --data the directory it is in); "+
		"to start a new installation here instead, remove secret.key and session.key first",
		g.path(dbFileName), state, g.path(secretKeyFile), g.dataDir)
}
