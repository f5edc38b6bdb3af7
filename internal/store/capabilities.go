package store

import (
	"context"
	"time"
)

// Capabilities is the part of a Store that says what its backend can do,
// so that callers ask instead of switching on the store's type.
type Capabilities interface {
	// SetDispatcher makes CreateEvent and CreateEventFor claim, for lease,
	// each delivery that d admits and that goes to an endpoint without FIFO
	// or a rate limit, and hand it to d once its transaction commits (see
	// the package documentation); a delivery claimed so has Claim 1 in what
	// CreateEvent returns. It reports whether the store can: a store that
	// cannot (PostgreSQL, whose limits hold only in claims) returns false
	// and does nothing. SetDispatcher(nil, 0) stops it.
	SetDispatcher(d Dispatcher, lease time.Duration) bool
	// Shared reports whether several processes may claim from the database
	// at once (PostgreSQL): the delivery engine then keeps its per-endpoint
	// limits in the claims (ClaimParams.MaxInFlight, RateLimits).
	Shared() bool
	// Locker returns what elects a leader among the processes sharing the
	// database (PostgreSQL's advisory locks), or nil for a store that one
	// process alone uses (SQLite).
	Locker() AdvisoryLocker
}

// AdvisoryLocker takes locks that processes sharing a database see, to
// elect the one that runs a periodic job (see internal/leader).
type AdvisoryLocker interface {
	// TryAdvisoryLock tries, without waiting, to take the lock key, held
	// until release is called (release may be called more than once) or
	// the connection that holds it is lost. ok reports whether it was
	// taken.
	TryAdvisoryLock(ctx context.Context, key int64) (release func(), ok bool, err error)
}
