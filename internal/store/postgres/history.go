package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// CreateEventFor durably stores ev and one pending delivery, due at
// ev.CreatedAt, for each endpoint of endpointIDs that exists, belongs to
// ev.Tenant and is enabled, whatever its event type filter, in one
// transaction, and returns the deliveries; it takes the same locks as
// CreateEvent. If none qualifies, nothing is written and the error is
// ErrNotFound. ev.IdempotencyKey must be empty. An empty ev.ID is
// generated and a zero ev.CreatedAt is now; ErrConflict if ev.ID exists.
func (s *Store) CreateEventFor(ctx context.Context, ev *store.Event, endpointIDs []string) (*store.Event, []*store.Delivery, error) {
	if ev.IdempotencyKey != "" {
		return nil, nil, errors.New("create event for endpoints: an idempotency key is not supported")
	}
	only := slices.Clone(endpointIDs)
	if only == nil {
		only = []string{}
	}
	return s.acceptEvent(ctx, ev, time.Time{}, only)
}

// defaultHealthWindow is EndpointHealth's last when it is not positive.
const defaultHealthWindow = 20

// healthQuery reads, for each endpoint of $1, its latest attempts, newest
// first, from the index attempts_endpoint, each the latest of its delivery
// (so that a delivery counts once), with the delivery's status. Its cost is
// bounded by the window times the attempts a delivery takes, whatever the
// endpoint's history or backlog.
const healthQuery = `SELECT ep.id, x.status, x.status_code, x.error_message, x.started_at
	FROM unnest($1::text[]) AS ep(id) CROSS JOIN LATERAL (
		SELECT d.status, a.status_code, a.error_message, a.started_at
		FROM attempts AS a JOIN deliveries AS d ON d.id = a.delivery_id
		WHERE a.endpoint_id = ep.id AND a.attempt_number = d.attempts
		ORDER BY a.started_at DESC LIMIT $2) AS x`

// EndpointHealth sums up, for each endpoint of ids, its last most recently
// attempted deliveries, ordered by the start of their latest attempt: how
// many succeeded and failed, and the latest attempt's outcome, in one
// query. Every id gets an entry, the zero EndpointHealth when the endpoint
// has no attempt on record. last <= 0 means 20.
func (s *Store) EndpointHealth(ctx context.Context, ids []string, last int) (map[string]store.EndpointHealth, error) {
	if last <= 0 {
		last = defaultHealthWindow
	}
	out := make(map[string]store.EndpointHealth, len(ids))
	for _, id := range ids {
		out[id] = store.EndpointHealth{}
	}
	if len(ids) == 0 {
		return out, nil
	}
	uniq := slices.Compact(slices.Sorted(slices.Values(ids)))
	rows, err := s.pool.Query(ctx, healthQuery, uniq, last)
	if err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id, status, msg string
			code            int
			started         int64
		)
		if err := rows.Scan(&id, &status, &code, &msg, &started); err != nil {
			return nil, fmt.Errorf("endpoint health: %w", err)
		}
		h := out[id]
		store.AddHealth(&h, store.DeliveryStatus(status), code, msg, fromMS(started))
		out[id] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	return out, nil
}

// DeliveryHistogram counts the deliveries f selects (f.Page aside) created
// in [f.Since, f.Until), by status, per bucket of the given width from
// f.Since, in one GROUP BY query over the range of the index
// deliveries_created. It returns every bucket, empty ones included.
func (s *Store) DeliveryHistogram(ctx context.Context, f store.DeliveryFilter, bucket time.Duration) ([]store.HistogramBucket, error) {
	since, width, n, err := store.HistogramRange(f, bucket)
	if err != nil {
		return nil, fmt.Errorf("delivery histogram: %w", err)
	}
	out := make([]store.HistogramBucket, n)
	for i := range out {
		out[i].Start = fromMS(since + int64(i)*width)
	}
	if n == 0 {
		return out, nil
	}
	where, args := deliveryConds(f)
	p := len(args)
	q := `SELECT (created_at - $` + strconv.Itoa(p+1) + `) / $` + strconv.Itoa(p+2) + `,
			count(*) FILTER (WHERE status = 'succeeded'), count(*) FILTER (WHERE status = 'failed'),
			count(*) FILTER (WHERE status = 'pending')
		FROM deliveries WHERE ` + strings.Join(where, " AND ") + ` GROUP BY 1`
	rows, err := s.pool.Query(ctx, q, append(args, since, width)...)
	if err != nil {
		return nil, fmt.Errorf("delivery histogram: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			i                int64
			ok, bad, pending int
		)
		if err := rows.Scan(&i, &ok, &bad, &pending); err != nil {
			return nil, fmt.Errorf("delivery histogram: %w", err)
		}
		if i < 0 || i >= int64(n) {
			continue
		}
		out[i].Succeeded, out[i].Failed, out[i].Pending = ok, bad, pending
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("delivery histogram: %w", err)
	}
	return out, nil
}
