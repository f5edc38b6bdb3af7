package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnavailable: the database cannot take writes for now, for a reason
// that is the installation's and not the request's: the disk is full, the
// database or its file system is read-only, or an I/O error. Every method
// that writes may return it. A caller should answer "try again later"
// (HTTP 503 with Retry-After), not "internal error", and an operator must
// act; Health reports it too.
var ErrUnavailable = errors.New("store cannot write")

// HealthChecker is implemented by stores that can tell whether they can
// write, which a Ping does not show: a database on a full disk still answers
// queries. Both hookrelay stores implement it.
type HealthChecker interface {
	// Health returns nil when the store can read and, as far as it knows,
	// write. It returns an error wrapping ErrUnavailable when a write has
	// failed for lack of space or a similar reason within the store's
	// recent window, and has not succeeded since; any other error when the
	// database does not answer at all.
	Health(ctx context.Context) error
}

// DefaultHealthWindow is how long a write failure keeps a WriteHealth
// unhealthy.
const DefaultHealthWindow = 30 * time.Second

// WriteHealth remembers a store's last write failure that wrapped
// ErrUnavailable, for Health. Stores call Failed with the errors of their
// writes. A failure counts for Window and then no longer: once the operator
// has made room, the store is healthy again within Window, and a store that
// has nothing to write does not stay unhealthy for ever. The zero value is
// ready to use and safe for concurrent use.
type WriteHealth struct {
	// Window is how long a failure counts. 0 means DefaultHealthWindow.
	Window time.Duration
	// Now is the clock. nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	failed time.Time // zero: no failure counts
	err    error
}

// Failed records err if it wraps ErrUnavailable, and returns err unchanged,
// so that a store can write `return h.Failed(err)`.
func (h *WriteHealth) Failed(err error) error {
	if err == nil || !errors.Is(err, ErrUnavailable) {
		return err
	}
	h.mu.Lock()
	h.failed, h.err = h.now(), err
	h.mu.Unlock()
	return err
}

// Err returns the recorded failure, wrapped, if it is within the window,
// else nil.
func (h *WriteHealth) Err() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failed.IsZero() {
		return nil
	}
	window := h.Window
	if window <= 0 {
		window = DefaultHealthWindow
	}
	if age := h.now().Sub(h.failed); age >= window {
		return nil
	}
	return fmt.Errorf("last write failed at %s: %w", h.failed.UTC().Format(time.RFC3339), h.err)
}

// Check is a HealthChecker's Health for a store whose Ping is ping and
// whose write failures h records: ping's error, else Err's, wrapped.
func (h *WriteHealth) Check(ctx context.Context, ping func(context.Context) error) error {
	if err := ping(ctx); err != nil {
		return err
	}
	if err := h.Err(); err != nil {
		return fmt.Errorf("health: %w", err)
	}
	return nil
}

func (h *WriteHealth) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}
