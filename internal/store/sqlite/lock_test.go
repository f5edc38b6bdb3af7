//go:build unix

package sqlite

import (
	"errors"
	"path/filepath"
	"testing"
)

// TestLockWaitsForARelease: a lock released while lockFile is trying it
// (a closed Store whose descriptor a forked child still held, or a process
// still exiting) is taken, not reported as ErrLocked; one that stays held
// is ErrLocked once lockWait has passed.
func TestLockWaitsForARelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.lock")
	held, err := lockFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tries := 0
	lockRetried = func() {
		tries++
		if tries == 2 {
			unlockFile(held)
		}
	}
	t.Cleanup(func() { lockRetried = nil })
	f, err := lockFile(path)
	if err != nil {
		t.Fatalf("lock released during the wait: %v", err)
	}
	if tries != 2 {
		t.Fatalf("lock taken after %d tries, want 2 (one held, one released, then taken)", tries)
	}

	lockRetried = nil
	if _, err := lockFile(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held throughout: %v, want ErrLocked", err)
	}
	unlockFile(f)
}
