//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestFileModes checks that the database, its WAL and shared-memory files
// and the lock file are readable by their owner only, whatever the umask
// lets through: they hold every event payload and the sealed secrets, and
// must not depend on the data directory's mode alone. An existing
// database created with a looser mode is tightened at open.
//
// Not parallel: it sets the process's umask, which parallel tests would
// see.
func TestFileModes(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)

	check := func(t *testing.T, path string) {
		t.Helper()
		s := open(t, path, newCipher(t))
		// A write makes sure the WAL and shared-memory files exist.
		if err := s.CreateAPIKey(context.Background(), &store.APIKey{ID: "key_1", Name: "k", Hash: []byte("h"), CreatedAt: time.UnixMilli(1)}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm", path + ".lock"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("%s has mode %v, want 0600", filepath.Base(p), m)
			}
		}
	}
	t.Run("new", func(t *testing.T) {
		check(t, filepath.Join(t.TempDir(), "new.db"))
	})
	t.Run("existing", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "old.db")
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		check(t, path)
	})
}
