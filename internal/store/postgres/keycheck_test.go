package postgres_test

import (
	"context"
	"testing"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/storetest"
)

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	baseURL(t)
	storetest.RunKeyCheck(t, func(t *testing.T) storetest.KeyOpener {
		dsn := freshSchema(t)
		return func(t *testing.T, key []byte) store.Store {
			box, err := secretbox.New(key)
			if err != nil {
				t.Fatal(err)
			}
			s, err := postgres.Open(context.Background(), dsn, &postgres.Config{Cipher: box, MaxConns: 2})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		}
	})
}
