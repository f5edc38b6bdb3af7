package delivery

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// Leader says whether this node runs the periodic jobs when several nodes
// share a store. *leader.Elector implements it.
type Leader interface {
	// Check reports whether this node leads now, confirming it with the
	// database rather than trusting an earlier answer.
	Check(ctx context.Context) bool
}

// pruneEvery is how often retention runs, at most.
const pruneEvery = 5 * time.Minute

// periodic runs job at once and then every interval until ctx is done, on
// the leader only: Config.Leader is asked before each run.
func (e *Engine) periodic(ctx context.Context, every time.Duration, job func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if e.cfg.Leader == nil || e.cfg.Leader.Check(ctx) {
			job(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// prune erases the payloads older than their tenant's
// Config.TenantPayloadRetention, then deletes the history older than
// Config.Retention: attempts,
// finished deliveries, idempotency keys and events left without
// deliveries. The store deletes in batches of Config.PruneBatch rows, one
// transaction each, so deliveries wait for one batch at most.
func (e *Engine) prune(ctx context.Context) {
	e.erasePayloads(ctx)
	if e.cfg.Retention <= 0 {
		return
	}
	before := e.now().Add(-e.cfg.Retention)
	start := time.Now()
	res, err := e.store.Prune(ctx, store.PruneParams{Before: before, Batch: e.cfg.PruneBatch})
	e.metrics.pruned(res)
	if err != nil {
		if ctx.Err() == nil {
			e.log.ErrorContext(ctx, "prune history", "before", before, "err", err,
				"attempts", res.Attempts, "deliveries", res.Deliveries, "idempotency_keys", res.IdempotencyKeys, "events", res.Events)
		}
		return
	}
	if res != (store.PruneResult{}) {
		e.log.InfoContext(ctx, "pruned history", "before", before, "duration", time.Since(start),
			"attempts", res.Attempts, "deliveries", res.Deliveries, "idempotency_keys", res.IdempotencyKeys, "events", res.Events)
	}
}

// erasePayloads erases, tenant by tenant, the payloads of the events older
// than Config.TenantPayloadRetention, in batches of Config.PruneBatch
// events, one transaction each.
func (e *Engine) erasePayloads(ctx context.Context) {
	now := e.now()
	for _, tenant := range slices.Sorted(maps.Keys(e.cfg.TenantPayloadRetention)) {
		before := now.Add(-e.cfg.TenantPayloadRetention[tenant])
		n, err := e.store.ErasePayloads(ctx, store.ErasePayloadsParams{Tenant: tenant, Before: before, Now: now, Batch: e.cfg.PruneBatch})
		if err != nil {
			if ctx.Err() == nil {
				e.log.ErrorContext(ctx, "erase payloads", "tenant", tenant, "before", before, "erased", n, "err", err)
			}
			continue
		}
		if n > 0 {
			e.log.InfoContext(ctx, "erased payloads", "tenant", tenant, "before", before, "events", n)
		}
	}
}
