package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

const endpointCols = `id, tenant, url, description, scheme, custom_scheme, secrets, event_types,
	disabled, disabled_reason, fifo, rate_limit, failing_since, filter, created_at, updated_at,
	settings, timeout_ms, retry_schedule, trace_context`

// endpointValues are the placeholders of endpointCols.
const endpointValues = `?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?`

func (s *Store) sealSecrets(secrets []store.Secret) ([]byte, error) {
	return store.SealSecrets(s.cipher, secrets)
}

func (s *Store) openSecrets(sealed []byte) ([]store.Secret, error) {
	return store.OpenSecrets(s.cipher, sealed)
}

// endpointArgs encodes e's columns but id, created_at, updated_at and
// the settings columns (see settingsArgs), in the order of the statements
// below.
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
	var custom any
	if e.CustomScheme != nil {
		custom = string(e.CustomScheme)
	}
	return []any{e.Tenant, e.URL, e.Description, e.Scheme, custom, secrets, string(et),
		boolInt(e.Disabled), e.DisabledReason, boolInt(e.FIFO), e.RateLimit, nullMS(e.FailingSince), store.FilterColumn(e.Filter)}, nil
}

// settingsArgs encodes e's settings, timeout_ms and retry_schedule
// columns.
func (s *Store) settingsArgs(e *store.Endpoint) ([]any, error) {
	sealed, err := store.SealSettings(s.cipher, e)
	if err != nil {
		return nil, err
	}
	sched, err := store.EncodeSchedule(e.RetrySchedule)
	if err != nil {
		return nil, err
	}
	var col any
	if sealed != nil {
		col = sealed
	}
	return []any{col, e.Timeout.Milliseconds(), sched}, nil
}

// insertArgs are the arguments of an INSERT of endpointCols for e.
func (s *Store) insertArgs(e *store.Endpoint) ([]any, error) {
	args, err := s.endpointArgs(e)
	if err != nil {
		return nil, err
	}
	set, err := s.settingsArgs(e)
	if err != nil {
		return nil, err
	}
	args = append([]any{e.ID}, args...)
	args = append(args, ms(e.CreatedAt), ms(e.UpdatedAt))
	args = append(args, set...)
	return append(args, boolInt(e.TraceContext)), nil
}

type scanner = store.RowScanner

// scanEndpoint reads a row of endpointCols, every secret included.
func (s *Store) scanEndpoint(r scanner) (*store.Endpoint, error) {
	var (
		e                store.Endpoint
		custom           sql.NullString
		sealed           []byte
		types            string
		disabled, fifo   int64
		traceContext     int64
		failing          sql.NullInt64
		flt              sql.NullString
		created, updated int64
		settings         []byte
		timeoutMS        int64
		sched            *string
	)
	if err := r.Scan(&e.ID, &e.Tenant, &e.URL, &e.Description, &e.Scheme, &custom, &sealed, &types,
		&disabled, &e.DisabledReason, &fifo, &e.RateLimit, &failing, &flt, &created, &updated,
		&settings, &timeoutMS, &sched, &traceContext); err != nil {
		return nil, interpretError(err)
	}
	if flt.Valid {
		e.Filter = []byte(flt.String)
	}
	if err := store.OpenSettings(s.cipher, &e, settings); err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	e.Timeout = time.Duration(timeoutMS) * time.Millisecond
	var err error
	if e.RetrySchedule, err = store.DecodeSchedule(sched); err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	if custom.Valid {
		e.CustomScheme = []byte(custom.String)
	}
	if e.Secrets, err = s.openSecrets(sealed); err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", e.ID, err)
	}
	if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s: decode event types: %w", e.ID, err)
	}
	if len(e.EventTypes) == 0 {
		e.EventTypes = nil
	}
	e.Disabled, e.FIFO, e.TraceContext = disabled != 0, fifo != 0, traceContext != 0
	e.FailingSince = fromNullMS(failing)
	e.CreatedAt, e.UpdatedAt = fromMS(created), fromMS(updated)
	return &e, nil
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
	err = s.write(ctx, func(w *writer) error {
		if _, err := w.exec(`INSERT INTO endpoints (`+endpointCols+`)
			VALUES (`+endpointValues+`)`, args...); err != nil {
			return err
		}
		w.forgetEndpoint(e.ID)
		return nil
	})
	if err != nil {
		return fmt.Errorf("create endpoint %s: %w", e.ID, err)
	}
	return nil
}

// GetEndpoint returns the endpoint, without its expired secrets, or
// ErrNotFound.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*store.Endpoint, error) {
	row, err := s.queryRow(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("get endpoint %s: %w", id, err)
	}
	e, err := s.scanEndpoint(row)
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
	if f.Tenant != nil {
		where = append(where, "tenant = ?")
		args = append(args, *f.Tenant)
	}
	if len(f.Tenants) > 0 {
		where = append(where, "tenant IN (?"+strings.Repeat(", ?", len(f.Tenants)-1)+")")
		for _, t := range f.Tenants {
			args = append(args, t)
		}
	}
	q, args := store.IDPageQuery(`SELECT `+endpointCols+` FROM endpoints`, where, args, f.Cursor, limit, qmark)
	rows, err := s.query(ctx, q, args...)
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

// UpdateEndpoint changes the endpoint id in one transaction of the writer:
// it reads the row with the writer's connection, calls fn, and writes only
// the columns of fn's patch (see store.Store.UpdateEndpoint). An error from
// fn fails this operation alone, not the others of its batch.
func (s *Store) UpdateEndpoint(ctx context.Context, id string, fn func(*store.Endpoint) (store.EndpointPatch, error)) (*store.Endpoint, error) {
	var out *store.Endpoint
	err := s.write(ctx, func(w *writer) error {
		out = nil
		cur, err := s.scanEndpoint(w.queryRow(`SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id))
		if err != nil {
			return err
		}
		now := time.Now()
		cur.Secrets = store.LiveSecrets(cur.Secrets, now)
		p, err := fn(cur)
		if err != nil {
			return &fnError{err}
		}
		ch, err := store.EndpointChanges(cur, p, s.cipher)
		if err != nil {
			return err
		}
		sets := make([]string, len(ch.Set))
		args := make([]any, 0, len(ch.Set)+1)
		for i, a := range ch.Set {
			sets[i] = a.Column + " = ?"
			args = append(args, bindValue(a))
		}
		// The statement depends only on which columns the patch names, so
		// the writer keeps at most one prepared statement per combination.
		rows, err := w.queryWrite(`UPDATE endpoints SET `+strings.Join(sets, ", ")+` WHERE id = ? RETURNING `+endpointCols,
			false, append(args, id)...)
		if err != nil {
			return err
		}
		es, err := store.CollectRows(rows, s.scanEndpoint)
		rows.Close()
		if err != nil {
			return err
		}
		w.forgetEndpoint(id)
		if len(es) != 1 {
			return fmt.Errorf("%d rows updated, want 1", len(es))
		}
		out = es[0]
		out.Secrets = store.LiveSecrets(out.Secrets, now)
		if !ch.Requeue {
			return nil
		}
		if ch.FIFOChanged {
			if _, err := w.exec(`UPDATE deliveries SET fifo = ? WHERE endpoint_id = ? AND status = 'pending'`,
				boolInt(ch.FIFO), id); err != nil {
				return err
			}
		}
		return w.rehold(id, ch.Disabled, ch.FIFO, now)
	})
	if err != nil {
		return nil, fmt.Errorf("update endpoint %s: %w", id, unwrapFn(err))
	}
	return out, nil
}

// bindValue converts a store.Assignment's value to the column's SQLite
// form: booleans are integers, and a custom scheme is TEXT, as
// endpointArgs and sourceArgs write it.
func bindValue(a store.Assignment) any {
	switch v := a.Value.(type) {
	case bool:
		return boolInt(v)
	case []byte:
		if v == nil {
			return nil
		}
		if a.Column == "custom_scheme" {
			return string(v)
		}
	}
	return a.Value
}

// DeleteEndpoint removes the endpoint and cancels its pending deliveries.
// ErrNotFound if there is none.
func (s *Store) DeleteEndpoint(ctx context.Context, id string) error {
	err := s.write(ctx, func(w *writer) error {
		n, err := w.exec(`DELETE FROM endpoints WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound
		}
		w.forgetEndpoint(id)
		if _, err := w.exec(`DELETE FROM endpoint_buckets WHERE endpoint_id = ?`, id); err != nil {
			return err
		}
		now := ms(time.Now())
		_, err = w.exec(`UPDATE deliveries SET status = 'canceled', hold = 0, leased_until = NULL,
			updated_at = ?, completed_at = ? WHERE endpoint_id = ? AND status = 'pending'`, now, now, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete endpoint %s: %w", id, err)
	}
	return nil
}

// DisableFailingEndpoints disables every enabled endpoint whose FailingSince
// is before failingBefore, with the given reason, and returns them.
func (s *Store) DisableFailingEndpoints(ctx context.Context, failingBefore time.Time, reason string) ([]*store.Endpoint, error) {
	var out []*store.Endpoint
	err := s.write(ctx, func(w *writer) error {
		out = out[:0]
		rows, err := w.query(`SELECT `+endpointCols+` FROM endpoints
			WHERE disabled = 0 AND failing_since IS NOT NULL AND failing_since < ? ORDER BY id`, ms(failingBefore))
		if err != nil {
			return err
		}
		for rows.Next() {
			e, err := s.scanEndpoint(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, e)
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		for _, e := range out {
			if _, err := w.exec(`UPDATE endpoints SET disabled = 1, disabled_reason = ?, updated_at = ? WHERE id = ?`,
				reason, ms(now), e.ID); err != nil {
				return err
			}
			w.forgetEndpoint(e.ID)
			if err := w.rehold(e.ID, true, e.FIFO, now); err != nil {
				return err
			}
			e.Disabled, e.DisabledReason, e.UpdatedAt = true, reason, now
			e.Secrets = store.LiveSecrets(e.Secrets, now)
		}
		// The operational webhooks, in the same transaction (after every
		// disable: the operator endpoint may be one of them).
		for _, e := range out {
			if e.ID == store.OperatorEndpointID {
				continue
			}
			if err := w.operational(store.OpEndpointDisabled, now, store.Disabled(e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("disable failing endpoints: %w", err)
	}
	return out, nil
}

// endpoint returns the endpoint from the writer's cache, loading it (every
// secret included) if needed. The result is shared: do not modify it.
func (w *writer) endpoint(id string) (*store.Endpoint, error) {
	if e, ok := w.endpoints[id]; ok {
		return e, nil
	}
	e, err := w.s.scanEndpoint(w.queryRow(`SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	w.endpoints[id] = e
	return e, nil
}

// targets returns the enabled endpoints of tenant, for fan-out.
func (w *writer) targets(tenant string) ([]*store.Endpoint, error) {
	if t, ok := w.tenants[tenant]; ok {
		return t, nil
	}
	rows, err := w.query(`SELECT id, event_types, fifo, filter, updated_at FROM endpoints WHERE tenant = ? AND disabled = 0 ORDER BY id`, tenant)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	list := []*store.Endpoint{}
	for rows.Next() {
		var (
			e       store.Endpoint
			types   string
			fifo    int64
			flt     sql.NullString
			updated int64
		)
		if err := rows.Scan(&e.ID, &types, &fifo, &flt, &updated); err != nil {
			return nil, err
		}
		if flt.Valid {
			e.Filter = []byte(flt.String)
		}
		e.UpdatedAt = fromMS(updated)
		if err := json.Unmarshal([]byte(types), &e.EventTypes); err != nil {
			return nil, fmt.Errorf("endpoint %s: decode event types: %w", e.ID, err)
		}
		e.FIFO = fifo != 0
		list = append(list, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(w.tenants) >= maxTenantCache {
		clear(w.tenants)
	}
	w.tenants[tenant] = list
	return list, nil
}

// headQuery finds the oldest pending delivery of an endpoint.
const headQuery = `SELECT id FROM deliveries WHERE endpoint_id = ? AND status = 'pending' ORDER BY id LIMIT 1`

// inFlightQuery finds the head of a FIFO endpoint if it is in flight at ?2:
// the claimable pending delivery whose lease is not over.
const inFlightQuery = `SELECT id FROM deliveries INDEXED BY deliveries_pending
	WHERE endpoint_id = ?1 AND status = 'pending' AND hold = 0 AND leased_until > ?2 ORDER BY id LIMIT 1`

// rehold makes the hold flags of the endpoint's pending deliveries right:
// all held if it is disabled, none if it is enabled and not FIFO, all but
// the head if it is enabled and FIFO. The head is the current head if it
// is in flight at now, else the oldest pending delivery: a retry or replay
// of an older delivery waits for the one in flight, and then goes first
// (see rehead).
func (w *writer) rehold(endpointID string, disabled, fifo bool, now time.Time) error {
	switch {
	case disabled:
		_, err := w.exec(`UPDATE deliveries SET hold = 1 WHERE endpoint_id = ? AND status = 'pending' AND hold = 0`, endpointID)
		return err
	case !fifo:
		_, err := w.exec(`UPDATE deliveries SET hold = 0 WHERE endpoint_id = ? AND status = 'pending' AND hold = 1`, endpointID)
		return err
	}
	var head string
	err := w.queryRow(inFlightQuery, endpointID, ms(now)).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		err = w.queryRow(headQuery, endpointID).Scan(&head)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, err := w.exec(`UPDATE deliveries SET hold = 1 WHERE endpoint_id = ? AND status = 'pending' AND hold = 0 AND id <> ?`,
		endpointID, head); err != nil {
		return err
	}
	_, err = w.exec(`UPDATE deliveries SET hold = 0 WHERE id = ? AND hold = 1`, head)
	return err
}

// promoteHead lets the oldest pending delivery of a FIFO endpoint be
// claimed, after the previous head completed.
func (w *writer) promoteHead(endpointID string) error {
	_, err := w.exec(`UPDATE deliveries SET hold = 0 WHERE id = (`+headQuery+`) AND hold = 1`, endpointID)
	return err
}

// rehead keeps a FIFO endpoint's order after its head, deliveryID, went
// back to waiting for a retry: if an older delivery was retried or
// replayed while it was in flight, that one is the head now, and
// deliveryID waits behind it.
func (w *writer) rehead(endpointID, deliveryID string) error {
	var head string
	if err := w.queryRow(headQuery, endpointID).Scan(&head); err != nil {
		return interpretError(err)
	}
	if head == deliveryID {
		return nil
	}
	if _, err := w.exec(`UPDATE deliveries SET hold = 1 WHERE id = ? AND hold = 0`, deliveryID); err != nil {
		return err
	}
	_, err := w.exec(`UPDATE deliveries SET hold = 0 WHERE id = ? AND hold = 1`, head)
	return err
}
