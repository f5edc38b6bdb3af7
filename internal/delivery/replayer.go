package delivery

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// ReplayJobStore is what a Replayer needs of the store.
type ReplayJobStore interface {
	ClaimReplayJob(ctx context.Context, node string, now, leaseUntil time.Time) (*store.ReplayJob, error)
	NextReplayJobAt(ctx context.Context) (time.Time, bool, error)
	RunReplayBatch(ctx context.Context, p store.ReplayBatchParams) (*store.ReplayJob, error)
	FailReplayJob(ctx context.Context, id, reason string, now time.Time) error
}

// ReplayerConfig configures a Replayer. Zero values mean the documented
// defaults.
type ReplayerConfig struct {
	// Store keeps the jobs; required.
	Store ReplayJobStore
	// Logger receives the replayer's logs; nil discards them.
	Logger *slog.Logger
	// NodeID names this node in the leases it takes on jobs; "" means a
	// random name for this process (a restarted process then waits for
	// its earlier leases to run out before it resumes their jobs).
	NodeID string
	// Now is the clock of leases, due times and the rate caps' pacing;
	// nil means time.Now. Waiting uses real time, as the Engine's does.
	Now func() time.Time
	// Lease is how long a claimed job stays this node's without a batch;
	// 0 means 30s.
	Lease time.Duration
	// Batch bounds what one batch looks at; 0 means
	// store.DefaultReplayBatch. A job's rate cap bounds it further.
	Batch int
	// PollInterval is how often the jobs are looked at when none is
	// ready; 0 means 1s. Wake looks at once.
	PollInterval time.Duration
	// Notify, if set, is called after a batch queued deliveries (the
	// Engine's Notify), so that they go out without waiting for a poll.
	Notify func()
	// MaxFailures is how many batches of a job in a row may fail before
	// the job is failed; 0 means 5.
	MaxFailures int
}

// Replayer runs the batches of replay jobs in the background, one job of
// the store's at a time on this node, each batch one transaction of the
// store (store.ReplayJobs.RunReplayBatch) so that a stopped replayer's
// job resumes from its last committed batch, here or on another node.
type Replayer struct {
	cfg  ReplayerConfig
	log  *slog.Logger
	now  func() time.Time
	wake chan struct{}
	// onBatch, if set, sees each batch's result (tests).
	onBatch func(*store.ReplayJob)
}

// NewReplayer returns a Replayer; call Run to start it.
func NewReplayer(cfg *ReplayerConfig) (*Replayer, error) {
	if cfg == nil || cfg.Store == nil {
		return nil, errors.New("replayer: a store is required")
	}
	r := &Replayer{cfg: *cfg, wake: make(chan struct{}, 1)}
	if r.cfg.NodeID == "" {
		r.cfg.NodeID = "replayer-" + rand.Text()[:10]
	}
	if r.cfg.Lease <= 0 {
		r.cfg.Lease = 30 * time.Second
	}
	if r.cfg.PollInterval <= 0 {
		r.cfg.PollInterval = time.Second
	}
	if r.cfg.MaxFailures <= 0 {
		r.cfg.MaxFailures = 5
	}
	r.log = r.cfg.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.now = r.cfg.Now
	if r.now == nil {
		r.now = time.Now
	}
	return r, nil
}

// Wake tells the replayer a job was created or may be ready.
func (r *Replayer) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run runs jobs until ctx is done, then returns nil. A batch in progress
// when ctx ends commits or rolls back whole.
func (r *Replayer) Run(ctx context.Context) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	failures := 0
	for ctx.Err() == nil {
		now := r.now()
		j, err := r.cfg.Store.ClaimReplayJob(ctx, r.cfg.NodeID, now, now.Add(r.cfg.Lease))
		switch {
		case err == nil:
			failures = 0
			r.runJob(ctx, j)
			continue
		case errors.Is(err, store.ErrNotFound):
			failures = 0
		case ctx.Err() != nil:
			return nil
		default:
			failures++
			r.log.ErrorContext(ctx, "claim replay job", "err", err)
		}
		d := r.cfg.PollInterval
		if failures > 0 {
			d = storeBackoff(failures)
		} else if at, ok, err := r.cfg.Store.NextReplayJobAt(ctx); err == nil && ok && at.After(now) {
			// A job due already that the claim did not get is another
			// node's: look again at the next poll.
			d = min(d, at.Sub(now))
		}
		timer.Reset(d)
		select {
		case <-ctx.Done():
		case <-r.wake:
			timer.Stop()
		case <-timer.C:
		}
	}
	return nil
}

// runJob runs batches of the claimed job j while its rate cap lets it,
// until it is done, its lease is lost, or ctx ends.
func (r *Replayer) runJob(ctx context.Context, j *store.ReplayJob) {
	failures := 0
	for ctx.Err() == nil && !j.State.Done() {
		now := r.now()
		if j.NotBefore.After(now) {
			return
		}
		next, err := r.cfg.Store.RunReplayBatch(ctx, store.ReplayBatchParams{JobID: j.ID, Node: r.cfg.NodeID, Now: now,
			LeaseUntil: now.Add(r.cfg.Lease), Batch: r.cfg.Batch})
		switch {
		case err == nil:
		case errors.Is(err, store.ErrLeaseLost), errors.Is(err, store.ErrNotFound):
			return // canceled, or another node's now
		case ctx.Err() != nil:
			return
		default:
			failures++
			r.log.ErrorContext(ctx, "replay batch", "job", j.ID, "failures", failures, "err", err)
			if failures >= r.cfg.MaxFailures {
				if err := r.cfg.Store.FailReplayJob(ctx, j.ID, fmt.Sprintf("batch failed %d times: %v", failures, err), r.now()); err != nil {
					r.log.ErrorContext(ctx, "fail replay job", "job", j.ID, "err", err)
				}
				return
			}
			t := time.NewTimer(storeBackoff(failures))
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		failures = 0
		if next.Queued > j.Queued && r.cfg.Notify != nil {
			r.cfg.Notify()
		}
		if r.onBatch != nil {
			r.onBatch(next)
		}
		if next.State.Done() {
			r.log.InfoContext(ctx, "replay job done", "job", j.ID, "state", next.State, "scanned", next.Scanned, "queued", next.Queued)
		}
		j = next
	}
}

// storeBackoff is the pause after failures store calls in a row failed:
// 100ms doubling up to 5s. The shift is bounded, so that no count of
// failures overflows it into a pause of zero or less.
func storeBackoff(failures int) time.Duration {
	return min(100*time.Millisecond<<min(max(failures, 1)-1, 6), 5*time.Second)
}
