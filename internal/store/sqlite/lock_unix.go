//go:build unix

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// lockWait is how long lockFile keeps trying a lock that is held. A lock
// outlives its Close for a moment when another goroutine of the process
// forks a child meanwhile: until the child's exec closes its copy of the
// descriptor, the child holds the flock too. And a serve restarted by its
// supervisor may start while the old process is still exiting. Neither is
// a second live Store, so the lock is tried for a while before Open
// reports ErrLocked.
const lockWait = 2 * time.Second

// lockRetried, if set, is called after each try of a held lock (tests).
var lockRetried func()

// lockFile takes an exclusive flock on path, creating it, trying for up to
// lockWait while it is held. The kernel releases the lock when the process
// dies, however it dies.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(lockWait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if lockRetried != nil {
			lockRetried()
		}
		if time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%w (lock file %s)", ErrLocked, path)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The pid is for people wondering who holds the lock; the lock itself
	// is the flock.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func unlockFile(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close() // closing the descriptor releases the flock
}
