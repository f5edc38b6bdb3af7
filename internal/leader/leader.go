// Package leader elects, among the hookrelay nodes that share one database,
// the node that runs the periodic jobs (auto-disable, retention), so that
// they run once per installation rather than once per node.
//
// # How
//
// Leadership is a PostgreSQL session-level advisory lock
// (postgres.Store.TryAdvisoryLock): the node whose connection holds the
// lock leads. Every node campaigns every Config.Interval by trying to take
// it without waiting; the one that gets it keeps it on a connection of its
// own. A node that dies, or whose connection drops, loses the lock as soon
// as the server notices the session is gone, and the next campaign of
// another node takes it.
//
// The lock gives no notice when its connection drops, so the leader
// confirms its leadership before every job (Check) and at every interval:
// it releases the lock and takes it again at once. Releasing succeeds only
// on a live session that held the lock; taking it again fails if the
// server still has the old session or another node was quicker. Either way
// a node never acts on a leadership it merely remembers. Another node may
// win the lock in the instant between release and retake; leadership then
// moves, which is harmless, and the node stops reporting itself leader
// from the release on, so two nodes never both report leading while their
// sessions are alive.
//
// # Guarantees
//
// At most one node holds the lock at any moment. A node may still be
// running a job it started as leader when its connection drops and another
// node takes over, so two nodes can briefly run the same job at once: the
// periodic jobs are written to be idempotent and safe to run concurrently,
// and leadership only keeps them from being repeated by every node.
//
// Without a Locker (the embedded SQLite store, which one process opens at a
// time) the node is always the leader.
package leader

import (
	"context"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Locker takes a session-level advisory lock without waiting.
// *postgres.Store implements it. ok reports whether the lock was taken;
// release gives it back and may be called more than once.
type Locker interface {
	TryAdvisoryLock(ctx context.Context, key int64) (release func(), ok bool, err error)
}

// Config configures an Elector. The zero value is a node that is always
// the leader.
type Config struct {
	// Locker takes the lock that makes a node the leader. nil means this
	// node is alone and always leads.
	Locker Locker
	// Key is the advisory lock's key; nodes with the same key compete.
	// 0 means Key("").
	Key int64
	// Interval is how often Run campaigns, or, on the leader, confirms
	// its leadership; 0 means 15s. A dead leader is replaced within about
	// one Interval of the server noticing that its session is gone.
	Interval time.Duration
	// Logger receives changes of leadership and errors; nil discards them.
	Logger *slog.Logger
	// OnChange, if set, is called with the new state each time this node
	// gains or loses leadership, with the Elector's lock held: it must not
	// call the Elector.
	OnChange func(leading bool)
}

const defaultInterval = 15 * time.Second

// Key returns the lock key of the installation whose tables are in the
// given schema ("" for the default search path), so that installations
// sharing a database in different schemas elect a leader each.
func Key(schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("hookrelay/leader/"))
	h.Write([]byte(schema))
	return int64(h.Sum64())
}

// Elector tracks whether this node is the leader. Create it with New; it is
// safe for concurrent use.
type Elector struct {
	cfg     Config
	log     *slog.Logger
	leading atomic.Bool

	mu      sync.Mutex // serializes campaigns
	release func()     // of the lock while held; nil otherwise
}

// New returns an Elector for cfg (nil: always the leader). Without a
// Locker it leads from the start; with one it leads once Check or Run has
// taken the lock.
func New(cfg *Config) *Elector {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Key == 0 {
		c.Key = Key("")
	}
	if c.Interval <= 0 {
		c.Interval = defaultInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Elector{cfg: c, log: c.Logger}
	if c.Locker == nil {
		e.leading.Store(true)
	}
	return e
}

// Leading reports what the last campaign found, without asking the
// database: for metrics and status, not for deciding to run a job (use
// Check for that).
func (e *Elector) Leading() bool { return e.leading.Load() }

// Check campaigns now and reports whether this node leads: a follower tries
// to take the lock; the leader releases it and takes it again, which
// proves the session that holds it alive. An error from the database (or a
// done ctx) counts as not leading. Without a Locker it reports true.
func (e *Elector) Check(ctx context.Context) bool {
	if e.cfg.Locker == nil {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	was := e.release != nil
	if was {
		// From the release on, this node does not lead until it has the
		// lock again: another node may take it first, and the two must
		// never both report leading (taking the lock again can wait on a
		// busy connection pool).
		e.leading.Store(false)
		e.release()
		e.release = nil
	}
	release, ok, err := e.cfg.Locker.TryAdvisoryLock(ctx, e.cfg.Key)
	if err != nil {
		if ctx.Err() == nil {
			e.log.WarnContext(ctx, "leader election: cannot reach the database; not leading", "err", err)
		}
		ok = false
	}
	if ok {
		e.release = release
	}
	e.setLocked(ctx, ok, was)
	return ok
}

// setLocked records the outcome of a campaign and reports a change.
func (e *Elector) setLocked(ctx context.Context, now, was bool) {
	e.leading.Store(now)
	if now == was {
		return
	}
	if now {
		e.log.InfoContext(ctx, "leader election: this node is now the leader")
	} else if was {
		e.log.InfoContext(ctx, "leader election: this node is no longer the leader")
	}
	if e.cfg.OnChange != nil {
		e.cfg.OnChange(now)
	}
}

// Run campaigns at once and then every Interval until ctx is done, then
// resigns. Without a Locker it only waits for ctx.
func (e *Elector) Run(ctx context.Context) {
	if e.cfg.Locker == nil {
		<-ctx.Done()
		return
	}
	defer e.Resign()
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		e.Check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Resign gives up leadership, if this node has it, so that another node
// can take over at its next campaign. The next Check campaigns again.
// Without a Locker it does nothing.
func (e *Elector) Resign() {
	if e.cfg.Locker == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	was := e.release != nil
	if was {
		e.release()
		e.release = nil
	}
	e.setLocked(context.Background(), false, was)
}
