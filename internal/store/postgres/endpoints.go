package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const endpointCols = `id, tenant, url, description, scheme, custom_scheme, secrets, event_types,
	disabled, disabled_reason, fifo, rate_limit, failing_since, filter, created_at, updated_at,
	settings, timeout_ms, retry_schedule, trace_context`

// endpointValues are the placeholders of endpointCols.
const endpointValues = `$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20`

func (s *Store) sealSecrets(secrets []store.Secret) ([]byte, error) {
	return store.SealSecrets(s.cipher, secrets)
}

func (s *Store) openSecrets(sealed []byte) ([]store.Secret, error) {
	return store.OpenSecrets(s.cipher, sealed)
}

// endpointArgs encodes e's columns but id, created_at and updated_at, in
// the order of the statements below.
func (s *Store) endpointArgs(e *store.Endpoint) ([]any, error) {
	secrets, err := s.sealSecrets(e.Secrets)
	if err != nil {
		return nil, err
	}
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	et, err := json.Marshal(types)
	if err != nil {
		return nil, fmt.Errorf("encode event types: %w", err)
	}
	return []any{e.Tenant, e.URL, e.Description, e.Scheme, e.CustomScheme, secrets, string(et),
		e.Disabled, e.DisabledReason, e.FIFO, e.RateLimit, nullMS(e.FailingSince), store.FilterColumn(e.Filter)}, nil
}

// insertArgs are the arguments of an INSERT of endpointCols for e.
func (s *Store) insertArgs(e *store.Endpoint) ([]any, error) {
	args, err := s.endpointArgs(e)
	if err != nil {
		return nil, err
	}
	settings, err := store.SealSettings(s.cipher, e)
	if err != nil {
		return nil, err
	}
	sched, err := store.EncodeSchedule(e.RetrySchedule)
	if err != nil {
		return nil, err
	}
	args = append([]any{e.ID}, args...)
	return append(args, ms(e.CreatedAt), ms(e.UpdatedAt), settings, e.Timeout.Milliseconds(), sched, e.TraceContext), nil
}

// decodeSettings fills e's settings from its settings, timeout_ms and
// retry_schedule columns.
func (s *Store) decodeSettings(e *store.Endpoint, settings []byte, timeoutMS int64, sched *string) error {
	if err := store.OpenSettings(s.cipher, e, settings); err != nil {
		return fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	e.Timeout = time.Duration(timeoutMS) * time.Millisecond
	var err error
	if e.RetrySchedule, err = store.DecodeSchedule(sched); err != nil {
		return fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	return nil
}

// scanEndpoint reads a row of endpointCols, every secret included.
func (s *Store) scanEndpoint(r store.RowScanner) (*store.Endpoint, error) {
	var (
		e                store.Endpoint
		sealed           []byte
		types            string
		failing          *int64
		flt              *string
		created, updated int64
		settings         []byte
		timeoutMS        int64
		sched            *string
	)
	if err := r.Scan(&e.ID, &e.Tenant, &e.URL, &e.Description, &e.Scheme, &e.CustomScheme, &sealed, &types,
		&e.Disabled, &e.DisabledReason, &e.FIFO, &e.RateLimit, &failing, &flt, &created, &updated,
		&settings, &timeoutMS, &sched, &e.TraceContext); err != nil {
		return nil, interpretError(err)
	}
	if flt != nil {
		e.Filter = []byte(*flt)
	}
	if err := s.decodeEndpoint(&e, sealed, types); err != nil {
		return nil, err
	}
	if err := s.decodeSettings(&e, settings, timeoutMS, sched); err != nil {
		return nil, err
	}
	e.FailingSince = fromNullMS(failing)
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return &e, nil
}

func (s *Store) decodeEndpoint(e *store.Endpoint, sealed []byte, types string) error {
	var err error
	if e.Secrets, err = s.openSecrets(sealed); err != nil {
		return fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return fmt.Errorf("endpoint %s: decode event types: %w", e.ID, err)
	}
	if len(e.EventTypes) == 0 {
		e.EventTypes = nil
	}
	return nil
}

// CreateEndpoint inserts e; e.ID, CreatedAt and UpdatedAt must be set.
// ErrConflict if the id exists.
func (s *Store) CreateEndpoint(ctx context.Context, e *store.Endpoint) error {
	if e.ID == "" {
		return errors.New("create endpoint: id is required")
	}
	args, err := s.insertArgs(e)
	if err != nil {
		return fmt.Errorf("create endpoint %s: %w", e.ID, err)
	}
	// No lock: a new endpoint has no deliveries, and an event accepted
	// while it is being created may or may not reach it, as if accepted
	// just before.
	if _, err := s.pool.Exec(ctx, `INSERT INTO endpoints (`+endpointCols+`)
		VALUES (`+endpointValues+`)`, args...); err != nil {
		return fmt.Errorf("create endpoint %s: %w", e.ID, interpretError(err))
	}
	return nil
}

// GetEndpoint returns the endpoint, without its expired secrets, or
// ErrNotFound.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*store.Endpoint, error) {
	e, err := s.scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("get endpoint %s: %w", id, err)
	}
	e.Secrets = store.LiveSecrets(e.Secrets, time.Now())
	return e, nil
}

// ListEndpoints returns a page of endpoints, newest first, and the cursor of
// the next page ("" at the end).
func (s *Store) ListEndpoints(ctx context.Context, f store.EndpointFilter) ([]*store.Endpoint, string, error) {
	limit := pageLimit(f.Page)
	var (
		where []string
		args  []any
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.Tenant != nil {
		add("tenant = ?", *f.Tenant)
	}
	if len(f.Tenants) > 0 {
		add("tenant = ANY(?)", f.Tenants)
	}
	q, args := store.IDPageQuery(`SELECT `+endpointCols+` FROM endpoints`, where, args, f.Cursor, limit, dollar)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list endpoints: %w", err)
	}
	defer rows.Close()
	out, err := store.CollectRows(rows, s.scanEndpoint)
	if err != nil {
		return nil, "", fmt.Errorf("list endpoints: %w", err)
	}
	now := time.Now()
	for _, e := range out {
		e.Secrets = store.LiveSecrets(e.Secrets, now)
	}
	out, next := store.TrimPage(out, limit, func(x *store.Endpoint) string { return x.ID })
	return out, next, nil
}

// errMoved reports that an endpoint changed tenant between the read that
// chose the tenant locks and the taking of them; the transaction is run
// again.
var errMoved = errors.New("endpoint moved to another tenant meanwhile")

// lockEndpointForWrite takes the locks a write to endpoint id's row needs:
// its tenant's fan-out lock (and that of newTenant, when it moves there)
// and its endpoint lock. It returns the endpoint's flags as they are under
// the locks, ErrNotFound if there is no such endpoint, or errMoved.
func lockEndpointForWrite(ctx context.Context, tx pgx.Tx, id string, newTenant *string) (disabled, fifo bool, err error) {
	var tenant string
	if err := tx.QueryRow(ctx, `SELECT tenant FROM endpoints WHERE id = $1`, id).Scan(&tenant); err != nil {
		return false, false, interpretError(err)
	}
	locks := []xlock{tenantLock(tenant, false), endpointLock(id)}
	if newTenant != nil {
		locks = append(locks, tenantLock(*newTenant, false))
	}
	if err := lockAll(ctx, tx, locks); err != nil {
		return false, false, err
	}
	var now string
	if err := tx.QueryRow(ctx, `SELECT tenant, disabled, fifo FROM endpoints WHERE id = $1`, id).Scan(&now, &disabled, &fifo); err != nil {
		return false, false, interpretError(err)
	}
	if now != tenant {
		return false, false, errMoved
	}
	return disabled, fifo, nil
}

// retryMoved runs fn in a transaction, again while it fails with errMoved.
func (s *Store) retryMoved(ctx context.Context, fn func(tx pgx.Tx) error) error {
	for range 10 {
		err := s.inTx(ctx, fn)
		if !errors.Is(err, errMoved) {
			return err
		}
	}
	return errMoved
}

// UpdateEndpoint changes the endpoint id in one transaction: under the
// endpoint's locks it reads the row FOR UPDATE, calls fn, and updates only
// the columns of fn's patch (see store.Store.UpdateEndpoint). fn runs again
// if the endpoint moved to another tenant meanwhile.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, fn func(*store.Endpoint) (store.EndpointPatch, error)) (*store.Endpoint, error) {
	var out *store.Endpoint
	err := s.retryMoved(ctx, func(tx pgx.Tx) error {
		out = nil
		// A patch never changes the tenant, so the locks of the current
		// one are all it needs.
		if _, _, err := lockEndpointForWrite(ctx, tx, id, nil); err != nil {
			return err
		}
		cur, err := s.scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		now := time.Now()
		cur.Secrets = store.LiveSecrets(cur.Secrets, now)
		p, err := fn(cur)
		if err != nil {
			return err
		}
		ch, err := store.EndpointChanges(cur, p, s.cipher)
		if err != nil {
			return err
		}
		q, args := updateQuery("endpoints", ch.Set, id, endpointCols)
		if out, err = s.scanEndpoint(tx.QueryRow(ctx, q, args...)); err != nil {
			return err
		}
		out.Secrets = store.LiveSecrets(out.Secrets, now)
		if !ch.Requeue {
			return nil
		}
		if ch.FIFOChanged {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET fifo = $1 WHERE endpoint_id = $2 AND status = 'pending'`,
				ch.FIFO, id); err != nil {
				return err
			}
		}
		return rehold(ctx, tx, id, ch.Disabled, ch.FIFO, now)
	})
	if err != nil {
		return nil, fmt.Errorf("update endpoint %s: %w", id, err)
	}
	return out, nil
}

// updateQuery returns the UPDATE of table's row id that makes the
// assignments and returns cols.
func updateQuery(table string, set []store.Assignment, id, cols string) (string, []any) {
	parts := make([]string, len(set))
	args := make([]any, 0, len(set)+1)
	for i, a := range set {
		args = append(args, a.Value)
		parts[i] = a.Column + " = $" + strconv.Itoa(len(args))
	}
	args = append(args, id)
	return `UPDATE ` + table + ` SET ` + strings.Join(parts, ", ") + ` WHERE id = $` + strconv.Itoa(len(args)) +
		` RETURNING ` + cols, args
}

// DeleteEndpoint removes the endpoint and cancels its pending deliveries.
// ErrNotFound if there is none.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	err := s.retryMoved(ctx, func(tx pgx.Tx) error {
		if _, _, err := lockEndpointForWrite(ctx, tx, id, nil); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM endpoints WHERE id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM endpoint_buckets WHERE endpoint_id = $1`, id); err != nil {
			return err
		}
		now := ms(time.Now())
		_, err := tx.Exec(ctx, `UPDATE deliveries SET status = 'canceled', hold = false, leased_until = NULL,
			updated_at = $1, completed_at = $1 WHERE endpoint_id = $2 AND status = 'pending'`, now, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// DisableFailingEndpoints disables every enabled endpoint whose FailingSince
// is before failingBefore, with the given reason, and returns them, ordered
// by id.
func (s *Store) DisableFailingEndpoints(ctx context.Context, failingBefore time.Time, reason string) ([]*store.Endpoint, error) {
	var out []*store.Endpoint
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT id, tenant FROM endpoints
			WHERE NOT disabled AND failing_since IS NOT NULL AND failing_since < $1`, ms(failingBefore))
		if err != nil {
			return err
		}
		tenantOf := map[string]string{}
		var locks []xlock
		for rows.Next() {
			var id, tenant string
			if err := rows.Scan(&id, &tenant); err != nil {
				rows.Close()
				return err
			}
			tenantOf[id] = tenant
			locks = append(locks, tenantLock(tenant, false), endpointLock(id))
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(tenantOf) == 0 {
			return nil
		}
		if err := lockAll(ctx, tx, locks); err != nil {
			return err
		}
		ids := make([]string, 0, len(tenantOf))
		for id := range tenantOf {
			ids = append(ids, id)
		}
		// Under the locks, read again: an endpoint may have recovered, been
		// disabled or deleted meanwhile. One that moved to a tenant whose
		// lock is not held is left for the next run.
		rows, err = tx.Query(ctx, `SELECT `+endpointCols+` FROM endpoints
			WHERE id = ANY($1) AND NOT disabled AND failing_since IS NOT NULL AND failing_since < $2 ORDER BY id`,
			ids, ms(failingBefore))
		if err != nil {
			return err
		}
		for rows.Next() {
			e, err := s.scanEndpoint(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if tenantOf[e.ID] == e.Tenant {
				out = append(out, e)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids = ids[:0]
		for _, e := range out {
			ids = append(ids, e.ID)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		if _, err := tx.Exec(ctx, `UPDATE endpoints SET disabled = true, disabled_reason = $1, updated_at = $2
			WHERE id = ANY($3)`, reason, ms(now), ids); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET hold = true
			WHERE endpoint_id = ANY($1) AND status = 'pending' AND NOT hold`, ids); err != nil {
			return err
		}
		var ops []opWebhook
		for _, e := range out {
			e.Disabled, e.DisabledReason, e.UpdatedAt = true, reason, now
			e.Secrets = store.LiveSecrets(e.Secrets, now)
			if e.ID != store.OperatorEndpointID {
				ops = append(ops, opWebhook{store.OpEndpointDisabled, store.Disabled(e)})
			}
		}
		// The operational webhooks, in the same transaction.
		return s.operational(ctx, tx, now, ops)
	})
	if err != nil {
		return nil, fmt.Errorf("disable failing endpoints: %w", err)
	}
	return out, nil
}

// headQuery finds the oldest pending delivery of endpoint $1 (the
// partial index deliveries_pending holds exactly the pending deliveries of
// each endpoint, in id order).
const headQuery = `SELECT id FROM deliveries WHERE endpoint_id = $1 AND status = 'pending' ORDER BY id LIMIT 1`

// claimableQuery locks the pending deliveries of endpoint $1 that claims
// may take (due or not), oldest first: it waits for a claim of one of them
// being committed, and then reads its lease.
const claimableQuery = `SELECT id, leased_until FROM deliveries
	WHERE endpoint_id = $1 AND status = 'pending' AND NOT hold ORDER BY id FOR UPDATE`

// rehold makes the hold flags of the endpoint's pending deliveries right:
// all held if it is disabled, none if it is enabled and not FIFO, all but
// the head if it is enabled and FIFO. The head is the delivery in flight at
// now if there is one (a FIFO endpoint never has two), else the oldest: a
// retry or replay of an older delivery waits for the one in flight, and
// then goes first (see afterAttempts). The caller holds the endpoint lock.
func rehold(ctx context.Context, tx pgx.Tx, endpointID string, disabled, fifo bool, now time.Time) error {
	switch {
	case disabled:
		_, err := tx.Exec(ctx, `UPDATE deliveries SET hold = true WHERE endpoint_id = $1 AND status = 'pending' AND NOT hold`, endpointID)
		return err
	case !fifo:
		_, err := tx.Exec(ctx, `UPDATE deliveries SET hold = false WHERE endpoint_id = $1 AND status = 'pending' AND hold`, endpointID)
		return err
	}
	// Claims take no endpoint lock: lock the rows they may take, so that
	// one being claimed now is seen in flight, and none is claimed before
	// this transaction ends.
	rows, err := tx.Query(ctx, claimableQuery, endpointID)
	if err != nil {
		return err
	}
	var head string
	for rows.Next() {
		var (
			id     string
			leased *int64
		)
		if err := rows.Scan(&id, &leased); err != nil {
			rows.Close()
			return err
		}
		if head == "" && leased != nil && *leased > ms(now) {
			head = id
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if head == "" {
		err := tx.QueryRow(ctx, headQuery, endpointID).Scan(&head)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	_, err = tx.Exec(ctx, `UPDATE deliveries SET hold = NOT hold
		WHERE endpoint_id = $1 AND status = 'pending' AND hold = (id = $2)`, endpointID, head)
	return err
}

// promoteQuery lets the oldest pending delivery of each FIFO endpoint of
// $1 be claimed.
const promoteQuery = `UPDATE deliveries SET hold = false WHERE hold AND id IN (
	SELECT (SELECT id FROM deliveries WHERE endpoint_id = ep AND status = 'pending' ORDER BY id LIMIT 1)
	FROM unnest($1::text[]) AS ep)`

// demoteQuery holds again the deliveries of $1, FIFO heads that went back
// to waiting for a retry, that are no longer the oldest pending delivery
// of their endpoint: an older one was retried or replayed while they were
// in flight, and goes first (promoteQuery then lets it be claimed).
const demoteQuery = `UPDATE deliveries AS d SET hold = true
	WHERE d.id = ANY($1) AND d.status = 'pending' AND NOT d.hold AND d.id <> (
		SELECT h.id FROM deliveries AS h WHERE h.endpoint_id = d.endpoint_id AND h.status = 'pending' ORDER BY h.id LIMIT 1)`

// promoteHeads lets the oldest pending delivery of each FIFO endpoint be
// claimed, after the previous head completed. The caller holds the
// endpoint locks.
func promoteHeads(ctx context.Context, tx pgx.Tx, endpointIDs []string) error {
	if len(endpointIDs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, promoteQuery, endpointIDs)
	return err
}
