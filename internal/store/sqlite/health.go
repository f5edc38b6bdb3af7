package sqlite

import (
	"context"

	"github.com/hookrelay/hookrelay/internal/store"
)

var _ store.HealthChecker = (*Store)(nil)

// Health reports whether the store can write: an error wrapping
// store.ErrUnavailable when a write failed within the last
// store.DefaultHealthWindow because the disk is full, the database is
// read-only or an I/O error, else what Ping reports. See
// store.HealthChecker.
func (s *Store) Health(ctx context.Context) error {
	return s.health.Check(ctx, s.Ping)
}
