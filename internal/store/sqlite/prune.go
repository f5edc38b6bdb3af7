package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/hookrelay/hookrelay/internal/store"
)

// The statements of Prune. Each table is walked once, in key order, on the
// read pool, which never holds the writer up; the writer then deletes each
// batch by key, checking the row still qualifies (a delivery retried since
// was read stays).
const (
	pruneAttemptsPick = `SELECT rowid FROM attempts WHERE rowid > ? AND started_at < ? ORDER BY rowid LIMIT ?`
	pruneAttempts     = `DELETE FROM attempts WHERE rowid IN (SELECT value FROM json_each(?)) AND started_at < ?`

	pruneDeliveriesPick = `SELECT id FROM deliveries
		WHERE id > ? AND status IN ('succeeded', 'failed', 'canceled') AND completed_at < ? ORDER BY id LIMIT ?`
	// pruneDeliveryAttempts deletes what is left of the attempts of the
	// deliveries about to be deleted, which the attempts' foreign key
	// requires; it uses their (delivery_id, attempt_number) index.
	pruneDeliveryAttempts = `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries
		WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('succeeded', 'failed', 'canceled') AND completed_at < ?2)`
	pruneDeliveries = `DELETE FROM deliveries
		WHERE id IN (SELECT value FROM json_each(?1)) AND status IN ('succeeded', 'failed', 'canceled') AND completed_at < ?2`

	pruneKeysPick = `SELECT tenant, idempotency_key FROM idempotency_keys
		WHERE (tenant, idempotency_key) > (?, ?) AND created_at < ? ORDER BY tenant, idempotency_key LIMIT ?`
	pruneKeys = `DELETE FROM idempotency_keys WHERE (tenant, idempotency_key) IN
		(SELECT value ->> 0, value ->> 1 FROM json_each(?)) AND created_at < ?`

	pruneEventsPick = `SELECT id FROM events WHERE id > ? AND created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event_id = events.id) ORDER BY id LIMIT ?`
	pruneEvents = `DELETE FROM events WHERE id IN (SELECT value FROM json_each(?)) AND created_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries AS d WHERE d.event_id = events.id)`

	pruneAuditPick = `SELECT id FROM audit_log WHERE id > ? AND at < ? ORDER BY id LIMIT ?`
	pruneAudit     = `DELETE FROM audit_log WHERE id IN (SELECT value FROM json_each(?)) AND at < ?`
)

// Prune deletes the history older than p.Before that PruneParams
// describes: attempts, then completed deliveries, then idempotency keys,
// then events left without deliveries, each in batches of at most p.Batch
// rows, one write transaction per batch, so that claims and completions
// wait for one batch at most. Finding each batch is a read, which does not
// hold the writer. Pending deliveries, and their events, are never
// deleted. On an error, what was deleted before it is reported with it.
func (s *Store) Prune(ctx context.Context, p store.PruneParams) (store.PruneResult, error) {
	var res store.PruneResult
	batch := p.Batch
	if batch <= 0 {
		batch = store.DefaultPruneBatch
	}
	before := ms(p.Before)
	var (
		rowid               int64
		afterID, afterEvent string
		afterAudit          string
		afterKey            [2]string
	)
	steps := []struct {
		what string
		// run deletes one batch and returns how many rows it picked.
		run func() (int, error)
	}{
		{"attempts", func() (int, error) {
			var ids []int64
			err := s.pick(ctx, pruneAttemptsPick, []any{rowid, before, batch}, func(rows *sql.Rows) error {
				if err := rows.Scan(&rowid); err != nil {
					return err
				}
				ids = append(ids, rowid)
				return nil
			})
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return len(ids), s.pruneBatch(ctx, ids, before, pruneStmt{pruneAttempts, &res.Attempts})
		}},
		{"deliveries", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneDeliveriesPick, &afterID, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return len(ids), s.pruneBatch(ctx, ids, before,
				pruneStmt{pruneDeliveryAttempts, &res.Attempts}, pruneStmt{pruneDeliveries, &res.Deliveries})
		}},
		{"idempotency keys", func() (int, error) {
			var keys [][2]string
			err := s.pick(ctx, pruneKeysPick, []any{afterKey[0], afterKey[1], before, batch}, func(rows *sql.Rows) error {
				if err := rows.Scan(&afterKey[0], &afterKey[1]); err != nil {
					return err
				}
				keys = append(keys, afterKey)
				return nil
			})
			if err != nil || len(keys) == 0 {
				return 0, err
			}
			return len(keys), s.pruneBatch(ctx, keys, before, pruneStmt{pruneKeys, &res.IdempotencyKeys})
		}},
		{"events", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneEventsPick, &afterEvent, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return len(ids), s.pruneBatch(ctx, ids, before, pruneStmt{pruneEvents, &res.Events})
		}},
		{"audit log", func() (int, error) {
			ids, err := s.pickIDs(ctx, pruneAuditPick, &afterAudit, before, batch)
			if err != nil || len(ids) == 0 {
				return 0, err
			}
			return len(ids), s.pruneBatch(ctx, ids, before, pruneStmt{pruneAudit, &res.AuditEntries})
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
		s.log.InfoContext(ctx, "sqlite: pruned history", "before", p.Before, "attempts", res.Attempts,
			"deliveries", res.Deliveries, "idempotency_keys", res.IdempotencyKeys, "events", res.Events,
			"audit_entries", res.AuditEntries)
	}
	return res, nil
}

// pick runs a query of the read pool and calls scan for each row.
func (s *Store) pick(ctx context.Context, q string, args []any, scan func(*sql.Rows) error) error {
	rows, err := s.query(ctx, q, args...)
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
	err := s.pick(ctx, q, []any{*after, before, batch}, func(rows *sql.Rows) error {
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

// pruneStmt is a deleting statement of Prune and the count it adds to.
type pruneStmt struct {
	q string
	n *int64
}

// pruneBatch runs the deleting statements on keys (their arguments are the
// keys as a JSON array and before), in one transaction of the writer, and
// adds the rows each deleted to its count once committed.
func (s *Store) pruneBatch(ctx context.Context, keys any, before int64, stmts ...pruneStmt) error {
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	deleted := make([]int64, len(stmts))
	err = s.write(ctx, func(w *writer) error {
		for i, st := range stmts {
			var err error
			if deleted[i], err = w.exec(st.q, string(b), before); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, st := range stmts {
		*st.n += deleted[i]
	}
	return nil
}
