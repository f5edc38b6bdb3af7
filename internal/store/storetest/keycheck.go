package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

// A KeyOpener opens one database, the same every time, with secrets
// sealed by a Cipher of the 32-byte key (internal/secretbox's). The caller
// closes what it returns before opening again.
type KeyOpener func(t *testing.T, key []byte) store.Store

// RunKeyCheck runs the tests of store.KeyChecker: a database opened again
// with another key must be refused, whether it holds a check value or
// only sealed secrets. newDB returns an opener of a fresh, empty database
// each time it is called; stores must implement store.KeyChecker.
func RunKeyCheck(t *testing.T, newDB func(t *testing.T) KeyOpener) {
	t.Run("Recorded", func(t *testing.T) {
		t.Parallel()
		ctx := context.Background()
		open := newDB(t)
		k1, k2 := randomKey(), randomKey()
		s := keyChecker(t, open(t, k1))
		if st, err := s.CheckKey(ctx); err != nil || st != (store.KeyState{}) {
			t.Fatalf("CheckKey of a fresh database = %+v, %v; want nothing recorded, nothing sealed", st, err)
		}
		if err := s.RecordKey(ctx); err != nil {
			t.Fatalf("RecordKey: %v", err)
		}
		if err := s.RecordKey(ctx); err != nil {
			t.Fatalf("RecordKey again: %v", err)
		}
		if st, err := s.CheckKey(ctx); err != nil || !st.Recorded {
			t.Fatalf("CheckKey after RecordKey = %+v, %v; want Recorded", st, err)
		}
		closeStore(t, s)

		s = keyChecker(t, open(t, k2))
		if _, err := s.CheckKey(ctx); !errors.Is(err, store.ErrWrongKey) {
			t.Errorf("CheckKey with another key = %v, want ErrWrongKey", err)
		}
		if err := s.RecordKey(ctx); !errors.Is(err, store.ErrWrongKey) {
			t.Errorf("RecordKey with another key = %v, want ErrWrongKey", err)
		}
		closeStore(t, s)

		s = keyChecker(t, open(t, k1))
		if st, err := s.CheckKey(ctx); err != nil || !st.Recorded {
			t.Errorf("CheckKey with the first key again = %+v, %v; want Recorded", st, err)
		}
		closeStore(t, s)
	})
	// A database from before check values, holding only sources (the
	// case where a lost key went unnoticed) or only endpoints.
	for _, kind := range []string{"source", "endpoint"} {
		t.Run("Sealed_"+kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			open := newDB(t)
			k1, k2 := randomKey(), randomKey()
			s := keyChecker(t, open(t, k1))
			var err error
			if kind == "source" {
				err = s.CreateSource(ctx, newSource("github"), nil)
			} else {
				err = s.CreateEndpoint(ctx, newEndpoint(""))
			}
			if err != nil {
				t.Fatal(err)
			}
			closeStore(t, s)

			s = keyChecker(t, open(t, k2))
			if _, err := s.CheckKey(ctx); !errors.Is(err, store.ErrWrongKey) {
				t.Errorf("CheckKey with another key than the %s's = %v, want ErrWrongKey", kind, err)
			}
			if err := s.RecordKey(ctx); !errors.Is(err, store.ErrWrongKey) {
				t.Errorf("RecordKey with another key than the %s's = %v, want ErrWrongKey", kind, err)
			}
			closeStore(t, s)

			s = keyChecker(t, open(t, k1))
			if st, err := s.CheckKey(ctx); err != nil || st != (store.KeyState{Sealed: true}) {
				t.Errorf("CheckKey with the right key = %+v, %v; want Sealed and nothing recorded (the wrong key recorded nothing)", st, err)
			}
			closeStore(t, s)
		})
	}
}

type keyStore interface {
	store.Store
	store.KeyChecker
}

func keyChecker(t *testing.T, s store.Store) keyStore {
	t.Helper()
	ks, ok := s.(keyStore)
	if !ok {
		t.Fatalf("%T does not implement store.KeyChecker", s)
	}
	return ks
}

func closeStore(t *testing.T, s store.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}

func randomKey() []byte {
	k := make([]byte, 32)
	rand.Read(k)
	return k
}
