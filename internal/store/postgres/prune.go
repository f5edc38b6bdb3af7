package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The statements of Prune. Each table is walked once, in key order, by
// reads that lock nothing; each batch is then deleted by key in a short
// transaction that checks the rows still qualify (a delivery retried since
// was read stays).
const (
	pruneAttemptsPick = `SELECT delivery_id, attempt_number FROM attempts
		WHERE (delivery_id, attempt_number) > ($1, $2) AND started_at < $3
		ORDER BY delivery_id, attempt_number LIMIT $4`
	pruneAttempts = `DELETE FROM attempts AS a USING unnest($1::text[], $2::int4[]) AS k(delivery_id, attempt_number)
		WHERE a.delivery_id = k.delivery_id AND a.attempt_number = k.attempt_number AND a.started_at < $3`

	pruneDeliveriesPick = `SELECT id FROM deliveries
		WHERE id > $1 AND status IN ('succeeded', 'failed', 'canceled') AND completed_at < $2 ORDER BY id LIMIT $3`
	// pruneDeliveriesLock locks the picked deliveries that still qualify:
	// RetryDelivery, which locks its delivery too, either comes first and
	// makes it pending, or after and finds it gone.
	pruneDeliveriesLock = `SELECT id FROM deliveries
		WHERE id = ANY($1) AND status IN ('succeeded', 'failed', 'canceled') AND completed_at < $2 FOR UPDATE`
	// pruneDeliveryAttempts deletes what is left of their attempts, which
	// the attempts' foreign key requires.
	pruneDeliveryAttempts = `DELETE FROM attempts WHERE delivery_id = ANY($1)`
	pruneDeliveries       = `DELETE FROM deliveries WHERE id = ANY($1)`

	pruneKeysPick = `SELECT tenant, idempotency_key FROM idempotency_keys
		WHERE (tenant, idempotency_key) > ($1, $2) AND created_at < $3 ORDER BY tenant, idempotency_key LIMIT $4`
	pruneKeys = `DELETE FROM idempotency_keys AS i USING unnest($1::text[], $2::text[]) AS k(tenant, idempotency_key)
		WHERE i.tenant = k.tenant AND i.idempotency_key = k.idempotency_key AND i.created_at < $3`

	// pruneEventsPick walks events in id order and looks each one's
	// deliveries up in deliveries_event: a scalar subquery, which the
	// planner cannot turn into an anti join over both whole tables.
	pruneEventsPick = `SELECT id FROM events WHERE id > $1 AND created_at < $2
		AND (SELECT d.id FROM deliveries AS d WHERE d.event_id = events.id LIMIT 1) IS NULL ORDER BY id LIMIT $3`
	pruneEvents = `DELETE FROM events WHERE id = ANY($1) AND created_at < $2
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event_id = events.id)`

	pruneAuditPick = `SELECT id FROM audit_log WHERE id > $1 AND at < $2 ORDER BY id LIMIT $3`
	pruneAudit     = `DELETE FROM audit_log WHERE id = ANY($1) AND at < $2`
)

// Prune deletes the history older than p.Before that PruneParams
// describes: attempts, then completed deliveries, then idempotency keys,
// then events left without deliveries, each in batches of at most p.Batch
// rows, one transaction per batch, so that no row other nodes want is
// locked for longer than one batch takes. Pending deliveries, and their
// events, are never deleted. On an error, what was deleted before it is
// reported with it. Any number of nodes may prune at once, though one is
// enough.
func (s *Store) Prune(ctx context.Context, p store.PruneParams) (store.PruneResult, error) {
	var res store.PruneResult
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultPruneBatch
	}
	before := ms(p.Before)
	var (
		afterAttempt struct {
			delivery string
			number   int32
		}
		afterDelivery, afterEvent string
		afterAudit                string
		afterKey                  [2]string
	)
	steps := []struct {
		what string
		// run deletes one batch and returns how many rows it picked.
		run func() (int, error)
	}{
		{"attempts", func() (int, error) {
			var deliveries []string
			var numbers []int32
			err := s.pick(ctx, pruneAttemptsPick, []any{afterAttempt.delivery, afterAttempt.number, before, batch}, func(rows pgx.Rows) error {
				if err := rows.Scan(&afterAttempt.delivery, &afterAttempt.number); err != nil {
					return err
				}
				deliveries, numbers = append(deliveries, afterAttempt.delivery), append(numbers, afterAttempt.number)
				return nil
			})
			if err != nil || len(deliveries) == 0 {
				return 0, err
			}
			tag, err := s.pool.Exec(ctx, pruneAttempts, deliveries, numbers, before)
			if err != nil {
				return 0, err
			}
			res.Attempts += tag.RowsAffected()
			return len(deliveries), nil
		}},
		{"deliveries", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneDeliveriesPick, &afterDelivery, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			var attempts, deliveries int64
			err = s.inTx(ctx, func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, pruneDeliveriesLock, ids, before)
				if err != nil {
					return err
				}
				locked, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil || len(locked) == 0 {
					return err
				}
				tag, err := tx.Exec(ctx, pruneDeliveryAttempts, locked)
				if err != nil {
					return err
				}
				attempts = tag.RowsAffected()
				tag, err = tx.Exec(ctx, pruneDeliveries, locked)
				deliveries = tag.RowsAffected()
				return err
			})
			if err != nil {
				return 0, err
			}
			res.Attempts += attempts
			res.Deliveries += deliveries
			return len(ids), nil
		}},
		{"idempotency keys", func() (int, error) {
			var tenants, keys []string
			err := s.pick(ctx, pruneKeysPick, []any{afterKey[0], afterKey[1], before, batch}, func(rows pgx.Rows) error {
				if err := rows.Scan(&afterKey[0], &afterKey[1]); err != nil {
					return err
				}
				tenants, keys = append(tenants, afterKey[0]), append(keys, afterKey[1])
				return nil
			})
			if err != nil || len(keys) == 0 {
				return 0, err
			}
			tag, err := s.pool.Exec(ctx, pruneKeys, tenants, keys, before)
			if err != nil {
				return 0, err
			}
			res.IdempotencyKeys += tag.RowsAffected()
			return len(keys), nil
		}},
		{"events", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneEventsPick, &afterEvent, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			tag, err := s.pool.Exec(ctx, pruneEvents, ids, before)
			if err != nil {
				return 0, err
			}
			res.Events += tag.RowsAffected()
			return len(ids), nil
		}},
		{"audit log", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneAuditPick, &afterAudit, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			tag, err := s.pool.Exec(ctx, pruneAudit, ids, before)
			if err != nil {
				return 0, err
			}
			res.AuditEntries += tag.RowsAffected()
			return len(ids), nil
		}},
	}
	for _, st := range steps {
		for {
			picked, err := st.run()
			if err != nil {
				return res, fmt.Errorf("prune %s: %w", st.what, err)
			}
			if picked < batch {
				break
			}
		}
	}
	if res != (store.PruneResult{}) {
		s.log.InfoContext(ctx, "postgres: pruned history", "before", p.Before, "attempts", res.Attempts,
			"deliveries", res.Deliveries, "idempotency_keys", res.IdempotencyKeys, "events", res.Events,
			"audit_entries", res.AuditEntries)
	}
	return res, nil
}

// pick runs a query and calls scan for each row.
func (s *Store) pick(ctx context.Context, q string, args []any, scan func(pgx.Rows) error) error {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// pickIDs runs a query for the ids after *after and moves *after to the
// last.
func (s *Store) pickIDs(ctx context.Context, q string, after *string, before int64, batch int) ([]string, error) {
	var ids []string
	err := s.pick(ctx, q, []any{*after, before, batch}, func(rows pgx.Rows) error {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		*after = id
		return nil
	})
	return ids, err
}
