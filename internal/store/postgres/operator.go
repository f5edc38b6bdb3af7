package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

// opWebhook is an operational webhook to write: its type and data.
type opWebhook struct {
	typ  string
	data map[string]any
}

// operationalQuery reads whether the operator endpoint exists and is
// enabled, and keeps it so until commit (FOR SHARE: a disable or delete
// waits), so that its deliveries are written unheld only while it is
// enabled. The operator endpoint is never FIFO: its pending set needs no
// endpoint lock.
const operationalQuery = `SELECT disabled FROM endpoints WHERE id = $1 FOR SHARE`

// insertOperationalQuery writes events $1.. of OperatorTenant and one
// delivery each to the operator endpoint, due at $5.
const insertOperationalQuery = `WITH ev AS (
		INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers)
		SELECT e.id, $6, e.typ, e.payload, NULL, $5, '', NULL
		FROM unnest($1::text[], $2::text[], $3::bytea[]) AS e(id, typ, payload)
		RETURNING id, event_type
	)
	INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status, next_attempt_at, hold, fifo, created_at, updated_at)
	SELECT d.id, d.event_id, $7, $6, d.typ, 'pending', $5, false, false, $5, $5
	FROM unnest($4::text[], $1::text[], $2::text[]) AS d(id, event_id, typ)`

// operational writes, in tx, the operational webhooks ops at at: an event
// of store.OperatorTenant and its delivery to the operator endpoint for
// each. Without an enabled operator endpoint it writes nothing. See
// store.OperatorTenant.
func (s *Store) operational(ctx context.Context, tx pgx.Tx, at time.Time, ops []opWebhook) error {
	if len(ops) == 0 {
		return nil
	}
	var disabled bool
	err := tx.QueryRow(ctx, operationalQuery, store.OperatorEndpointID).Scan(&disabled)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && disabled) {
		return nil
	}
	if err != nil {
		return err
	}
	n := len(ops)
	ids, types, payloads, dids := make([]string, n), make([]string, n), make([][]byte, n), make([]string, n)
	for i, op := range ops {
		ev, err := store.NewOperationalEvent(s.ids.next("evt"), op.typ, at, op.data)
		if err != nil {
			return err
		}
		ids[i], types[i], payloads[i], dids[i] = ev.ID, ev.Type, ev.Payload, s.ids.next("dlv")
	}
	_, err = tx.Exec(ctx, insertOperationalQuery, ids, types, payloads, dids, ms(at.Truncate(time.Millisecond)),
		store.OperatorTenant, store.OperatorEndpointID)
	return err
}
