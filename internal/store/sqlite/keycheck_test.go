package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/storetest"
)

func TestKeyCheck(t *testing.T) {
	t.Parallel()
	storetest.RunKeyCheck(t, func(t *testing.T) storetest.KeyOpener {
		path := filepath.Join(t.TempDir(), "hookrelay.db")
		return func(t *testing.T, key []byte) store.Store {
			box, err := secretbox.New(key)
			if err != nil {
				t.Fatal(err)
			}
			return open(t, path, box)
		}
	})
}
