package postgres

import (
	"context"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// ListEventsQuery is store.ListEventsQuery with this store's placeholders.
func ListEventsQuery(f store.EventFilter, limit int) (string, []any, error) {
	return store.ListEventsQuery(f, eventCols, limit, dollar)
}

// SeedSearch writes n events of 10 tenants and 20 types, created 10ms
// apart from base, each with its order.id indexed and one delivery (1 in
// 97 failed), and has PostgreSQL analyze them (as autovacuum would).
func (s *Store) SeedSearch(ctx context.Context, n int, base time.Time) error {
	b := base.UnixMilli()
	for _, q := range []string{`
		INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at)
		SELECT 'evt_' || lpad(i::text, 26, '0'), 't' || (i % 10), 'type.' || (i % 20), convert_to('{"order":{"id":' || i || '}}', 'UTF8'), NULL, $1::bigint + i * 10
		FROM generate_series(0, $2::int - 1) AS i`, `
		INSERT INTO event_fields (event_id, path, value_key, created_at)
		SELECT 'evt_' || lpad(i::text, 26, '0'), 'order.id', 'n:' || i, $1::bigint + i * 10 FROM generate_series(0, $2::int - 1) AS i`, `
		INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at, hold,
			created_at, updated_at, completed_at)
		SELECT 'dlv_' || lpad(i::text, 26, '0'), 'evt_' || lpad(i::text, 26, '0'), 'ep_' || (i % 10), 't' || (i % 10), 'type.' || (i % 20),
			CASE WHEN i % 97 = 0 THEN 'failed' ELSE 'succeeded' END, 1, $1::bigint + i * 10, false,
			$1::bigint + i * 10, $1::bigint + i * 10, $1::bigint + i * 10
		FROM generate_series(0, $2::int - 1) AS i`} {
		if _, err := s.pool.Exec(ctx, q, b, n); err != nil {
			return err
		}
	}
	_, err := s.pool.Exec(ctx, `ANALYZE`)
	return err
}
