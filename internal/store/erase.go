package store

import (
	"context"
	"time"
)

// DefaultEraseBatch is ErasePayloadsParams.Batch's default.
const DefaultEraseBatch = 500

// ErasePayloadsParams says whose payloads ErasePayloads erases.
type ErasePayloadsParams struct {
	Tenant string
	// Before bounds the events' creation: those created before it are
	// erased.
	Before time.Time
	// Now is the events' ErasedAt and their canceled deliveries'
	// CompletedAt.
	Now time.Time
	// Batch bounds the events one transaction erases; 0 means
	// DefaultEraseBatch.
	Batch int
}

// Erasure is the part of a Store that deletes content on request (GDPR)
// and by per-tenant retention, keeping the metadata.
type Erasure interface {
	// EraseEvent erases, in one transaction, the event's payload and
	// headers and the request headers and response bodies of its
	// deliveries' attempts, sets its ErasedAt to at (an event erased
	// already keeps its first ErasedAt), and cancels its pending
	// deliveries (StatusCanceled). Its metadata (id, tenant, type,
	// times, deliveries and attempts with their statuses) stays. An
	// attempt in flight as it is erased still completes its request,
	// but its result is lost (the delivery is no longer pending) and not
	// recorded. Erased events are skipped by ReplayMissing and
	// ReplayFailed, and RetryDelivery of one of their deliveries is
	// ErrConflict. It returns the event as erased, or ErrNotFound.
	EraseEvent(ctx context.Context, id string, at time.Time) (*Event, error)
	// ErasePayloads erases, as EraseEvent does, every event of p.Tenant
	// created before p.Before and not erased yet, p.Batch events per
	// transaction, and returns how many it erased; on an error, along
	// with those erased before it.
	ErasePayloads(ctx context.Context, p ErasePayloadsParams) (int64, error)
}
