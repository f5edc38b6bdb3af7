package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// CreateEventFor durably stores ev and one pending delivery, due at
// ev.CreatedAt, for each endpoint of endpointIDs that exists, belongs to
// ev.Tenant and is enabled, whatever its event type filter, in one
// transaction, and returns the deliveries. If none qualifies, nothing is
// written and the error is ErrNotFound. ev.IdempotencyKey must be empty.
// An empty ev.ID is generated and a zero ev.CreatedAt is now, as with
// CreateEvent; ErrConflict if ev.ID exists.
func (s *Store) CreateEventFor(ctx context.Context, ev *store.Event, endpointIDs []string) (*store.Event, []*store.Delivery, error) {
	if ev.IdempotencyKey != "" {
		return nil, nil, errors.New("create event for endpoints: an idempotency key is not supported")
	}
	only := slices.Clone(endpointIDs)
	if only == nil {
		only = []string{}
	}
	return s.createEvent(ctx, ev, time.Time{}, only)
}

// chosen returns the endpoints of targets whose id is in ids, in the order
// of targets, in a new slice (targets is the writer's cache).
func chosen(targets []*store.Endpoint, ids []string) []*store.Endpoint {
	var out []*store.Endpoint
	for _, t := range targets {
		if slices.Contains(ids, t.ID) {
			out = append(out, t)
		}
	}
	return out
}

// defaultHealthWindow is EndpointHealth's last when it is not positive.
const defaultHealthWindow = 20

// healthChunk bounds the endpoints of one EndpointHealth query.
const healthChunk = 100

// healthPart is one endpoint's part of the EndpointHealth query: its latest
// attempts, newest first, from the index attempts_endpoint, each the latest
// of its delivery (so that a delivery counts once), with the delivery's
// status. Its cost is bounded by the window times the attempts a delivery
// takes, whatever the endpoint's history or backlog.
const healthPart = `SELECT * FROM (SELECT a.endpoint_id, d.status, a.status_code, a.error_message, a.started_at
	FROM attempts AS a INDEXED BY attempts_endpoint JOIN deliveries AS d ON d.id = a.delivery_id
	WHERE a.endpoint_id = ? AND a.attempt_number = d.attempts ORDER BY a.started_at DESC LIMIT ?)`

// EndpointHealth sums up, for each endpoint of ids, its last most recently
// attempted deliveries, ordered by the start of their latest attempt: how
// many succeeded and failed, and the latest attempt's outcome. It runs one
// query per 100 endpoints. Every id gets an entry, the zero EndpointHealth
// when the endpoint has no attempt on record. last <= 0 means 20.
func (s *Store) EndpointHealth(ctx context.Context, ids []string, last int) (map[string]store.EndpointHealth, error) {
	if last <= 0 {
		last = defaultHealthWindow
	}
	out := make(map[string]store.EndpointHealth, len(ids))
	for _, id := range ids {
		out[id] = store.EndpointHealth{}
	}
	for chunk := range slices.Chunk(slices.Compact(slices.Sorted(slices.Values(ids))), healthChunk) {
		parts := make([]string, len(chunk))
		args := make([]any, 0, 2*len(chunk))
		for i, id := range chunk {
			parts[i] = healthPart
			args = append(args, id, last)
		}
		// Not prepared: the text depends on the number of endpoints.
		rows, err := s.rdb.QueryContext(ctx, strings.Join(parts, " UNION ALL "), args...)
		if err != nil {
			return nil, fmt.Errorf("endpoint health: %w", err)
		}
		err = func() error {
			defer rows.Close()
			for rows.Next() {
				var (
					id, status, msg string
					code            int
					started         int64
				)
				if err := rows.Scan(&id, &status, &code, &msg, &started); err != nil {
					return err
				}
				h := out[id]
				store.AddHealth(&h, store.DeliveryStatus(status), code, msg, fromMS(started))
				out[id] = h
			}
			return rows.Err()
		}()
		if err != nil {
			return nil, fmt.Errorf("endpoint health: %w", err)
		}
	}
	return out, nil
}

// DeliveryHistogram counts the deliveries f selects (f.Page aside) created
// in [f.Since, f.Until), by status, per bucket of the given width from
// f.Since, in one GROUP BY query that walks the index deliveries_created
// over the range. It returns every bucket, empty ones included.
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
	q := `SELECT (created_at - ?) / ?, sum(status = 'succeeded'), sum(status = 'failed'), sum(status = 'pending')
		FROM deliveries INDEXED BY deliveries_created WHERE ` + strings.Join(where, " AND ") + ` GROUP BY 1`
	rows, err := s.rdb.QueryContext(ctx, q, append([]any{since, width}, args...)...)
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
