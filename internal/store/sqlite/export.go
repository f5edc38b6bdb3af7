package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/hookrelay/hookrelay/internal/store"
)

// exportQueries read each table for Export, in the order of
// store.RecordKinds, each in key order.
var exportQueries = []struct {
	kind string
	q    string
	row  func(s *Store, rows *sql.Rows) (any, error)
}{
	{store.KindAPIKey, `SELECT ` + apiKeyCols + ` FROM api_keys ORDER BY id`, exportAPIKey},
	{store.KindEndpoint, `SELECT ` + endpointCols + ` FROM endpoints ORDER BY id`, exportEndpoint},
	{store.KindSource, `SELECT ` + sourceCols + ` FROM sources ORDER BY id`, exportSource},
	{store.KindEventType, `SELECT ` + store.EventTypeCols + ` FROM event_types ORDER BY name`, exportEventType},
	{store.KindEvent, `SELECT ` + eventCols + `, erased_at FROM events ORDER BY id`, exportEvent},
	{store.KindIdempotencyKey, `SELECT tenant, idempotency_key, event_id, created_at FROM idempotency_keys
		ORDER BY tenant, idempotency_key`, exportIdempotencyKey},
	{store.KindDelivery, `SELECT ` + deliveryRecordCols + ` FROM deliveries ORDER BY id`, exportDelivery},
	{store.KindAttempt, `SELECT ` + attemptRecordCols + ` FROM attempts ORDER BY delivery_id, attempt_number`, exportAttempt},
	{store.KindAudit, `SELECT ` + auditCols + ` FROM audit_log ORDER BY id`, exportAudit},
}

func exportAudit(_ *Store, rows *sql.Rows) (any, error) {
	e, err := scanAudit(rows)
	if err != nil {
		return nil, err
	}
	return &store.AuditRecord{ID: e.ID, At: ms(e.At), ActorKind: e.ActorKind, ActorID: e.ActorID, Tenant: e.Tenant,
		Action: e.Action, Target: e.Target, RemoteAddr: e.RemoteAddr, Detail: e.Detail}, nil
}

const (
	deliveryRecordCols = `id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at, claim,
		leased_until, hold, last_status, last_error, fifo, created_at, updated_at, completed_at`
	attemptRecordCols = `id, delivery_id, endpoint_id, event_id, attempt_number, started_at, duration_ns, url,
		request_headers, status_code, error_message, response_body, response_body IS NULL, trigger_kind`
)

// Export calls fn with every row of every table as store.Records, in the
// order of store.RecordKinds, each table in key order, from one read
// transaction of the read pool: a consistent snapshot, which writes do not
// wait for, but which keeps the WAL from being checkpointed past it while
// the export runs. Endpoint and source secrets are exported sealed. It
// stops at fn's first error and returns it wrapped.
func (s *Store) Export(ctx context.Context, fn func(store.Record) error) error {
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("export: begin: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
	for _, t := range exportQueries {
		if err := s.exportTable(ctx, conn, t.kind, t.q, t.row, fn); err != nil {
			return fmt.Errorf("export %s records: %w", t.kind, err)
		}
	}
	return nil
}

func (s *Store) exportTable(ctx context.Context, conn *sql.Conn, kind, q string, row func(*Store, *sql.Rows) (any, error), fn func(store.Record) error) error {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		data, err := row(s, rows)
		if err != nil {
			return err
		}
		rec, err := store.NewRecord(kind, data)
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

func exportAPIKey(_ *Store, rows *sql.Rows) (any, error) {
	var (
		r             store.APIKeyRecord
		used, revoked sql.NullInt64
		tenant        sql.NullString
		scopes        string
	)
	if err := rows.Scan(&r.ID, &r.Name, &r.Hash, &r.Prefix, &r.CreatedAt, &used, &revoked, &tenant, &scopes); err != nil {
		return nil, err
	}
	r.LastUsedAt, r.RevokedAt = nullInt(used), nullInt(revoked)
	if tenant.Valid {
		r.Tenant = &tenant.String
	}
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return nil, fmt.Errorf("api key %s: decode scopes: %w", r.ID, err)
	}
	return &r, nil
}

func exportEndpoint(_ *Store, rows *sql.Rows) (any, error) {
	var (
		r              store.EndpointRecord
		custom         sql.NullString
		types          string
		disabled, fifo int64
		traceContext   int64
		failing        sql.NullInt64
		settings       []byte
		timeoutMS      int64
		sched          *string
	)
	var flt sql.NullString
	if err := rows.Scan(&r.ID, &r.Tenant, &r.URL, &r.Description, &r.Scheme, &custom, &r.SealedSecrets, &types,
		&disabled, &r.DisabledReason, &fifo, &r.RateLimit, &failing, &flt, &r.CreatedAt, &r.UpdatedAt,
		&settings, &timeoutMS, &sched, &traceContext); err != nil {
		return nil, err
	}
	if err := r.SetSettingsColumns(settings, timeoutMS, sched); err != nil {
		return nil, err
	}
	if flt.Valid {
		r.Filter = &flt.String
	}
	if custom.Valid {
		r.CustomScheme = []byte(custom.String)
	}
	if err := json.Unmarshal([]byte(types), &r.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s: decode event types: %w", r.ID, err)
	}
	r.Disabled, r.FIFO, r.TraceContext = disabled != 0, fifo != 0, traceContext != 0
	r.FailingSince = nullInt(failing)
	return &r, nil
}

func exportSource(_ *Store, rows *sql.Rows) (any, error) {
	var (
		r      store.SourceRecord
		custom sql.NullString
		slack  int64
	)
	if err := rows.Scan(&r.ID, &r.Name, &r.Description, &r.Scheme, &custom, &r.SealedSecrets, &r.ToleranceMS,
		&r.DedupeMS, &slack, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	if custom.Valid {
		r.CustomScheme = []byte(custom.String)
	}
	r.SlackChallenge = slack != 0
	return &r, nil
}

func exportEvent(_ *Store, rows *sql.Rows) (any, error) {
	ev, err := scanErasedEvent(rows)
	if err != nil {
		return nil, err
	}
	return store.EventRecordOf(ev), nil
}

func exportIdempotencyKey(_ *Store, rows *sql.Rows) (any, error) {
	var r store.IdempotencyKeyRecord
	if err := rows.Scan(&r.Tenant, &r.IdempotencyKey, &r.EventID, &r.CreatedAt); err != nil {
		return nil, err
	}
	return &r, nil
}

func exportDelivery(_ *Store, rows *sql.Rows) (any, error) {
	var (
		r                 store.DeliveryRecord
		leased, completed sql.NullInt64
		hold, fifo        int64
	)
	if err := rows.Scan(&r.ID, &r.EventID, &r.EndpointID, &r.Tenant, &r.EventType, &r.Status, &r.Attempts,
		&r.NextAttemptAt, &r.Claim, &leased, &hold, &r.LastStatus, &r.LastError, &fifo, &r.CreatedAt, &r.UpdatedAt,
		&completed); err != nil {
		return nil, err
	}
	r.LeasedUntil, r.CompletedAt = nullInt(leased), nullInt(completed)
	r.Hold, r.FIFO = hold != 0, fifo != 0
	return &r, nil
}

func exportAttempt(_ *Store, rows *sql.Rows) (any, error) {
	var (
		r        store.AttemptRecord
		headers  string
		body     []byte
		bodyNull bool
	)
	if err := rows.Scan(&r.ID, &r.DeliveryID, &r.EndpointID, &r.EventID, &r.Number, &r.StartedAt, &r.DurationNS,
		&r.URL, &headers, &r.StatusCode, &r.Error, &body, &bodyNull, &r.Trigger); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(headers), &r.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s: decode headers: %w", r.ID, err)
	}
	if !bodyNull {
		r.ResponseBody = append([]byte{}, body...)
	}
	return &r, nil
}

func nullInt(v sql.NullInt64) *int64 {
	if !v.Valid {
		return nil
	}
	return &v.Int64
}

// importRow is one record made ready for the writer.
type importRow struct {
	q    string
	args []any
	// fields are an event's searchable payload fields, written after it.
	fields []store.IndexedField
}

// The statements of Import, one per kind.
var importQueries = map[string]string{
	store.KindAPIKey:    `INSERT INTO api_keys (` + apiKeyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindEndpoint:  `INSERT INTO endpoints (` + endpointCols + `) VALUES (` + endpointValues + `)`,
	store.KindSource:    `INSERT INTO sources (` + sourceCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindEventType: `INSERT INTO event_types (` + store.EventTypeCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindEvent: `INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers,
		traceparent, erased_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindIdempotencyKey: `INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at) VALUES (?, ?, ?, ?)`,
	store.KindDelivery:       `INSERT INTO deliveries (` + deliveryRecordCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindAttempt: `INSERT INTO attempts (id, delivery_id, endpoint_id, event_id, attempt_number, started_at, duration_ns,
		url, request_headers, status_code, error_message, response_body, trigger_kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
	store.KindAudit: `INSERT INTO audit_log (` + auditCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
}

// emptyQuery is true when a table Import writes has a row.
const emptyQuery = `SELECT EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM endpoints) OR EXISTS (SELECT 1 FROM sources)
	OR EXISTS (SELECT 1 FROM event_types) OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM idempotency_keys) OR EXISTS (SELECT 1 FROM deliveries)
	OR EXISTS (SELECT 1 FROM attempts) OR EXISTS (SELECT 1 FROM audit_log)`

// Import inserts records, as Export writes them, into an empty store,
// preserving every id and field, store.ImportBatch records per write
// transaction. ErrConflict, and nothing written, if the store is not
// empty. Records must come in the order of store.RecordKinds; the sealed
// secrets of endpoints and sources must open with this store's Cipher (the
// store that exported them must have used the same key). An error from records, or
// from a record, stops the import and is returned wrapped; the batches
// committed before it stay.
func (s *Store) Import(ctx context.Context, records iter.Seq2[store.Record, error]) error {
	var newest string // the newest delivery id imported
	n, err := store.ImportRecords(records, func(rec store.Record) (importRow, error) {
		row, err := s.importRow(rec)
		if err == nil && rec.Kind == store.KindDelivery {
			newest = max(newest, row.args[0].(string))
		}
		return row, err
	}, func(rows []importRow, first bool) error {
		return s.write(ctx, func(w *writer) error {
			if first {
				var used bool
				if err := w.queryRow(emptyQuery).Scan(&used); err != nil {
					return err
				}
				if used {
					return fmt.Errorf("%w: the store is not empty", store.ErrConflict)
				}
			}
			for _, r := range rows {
				if _, err := w.exec(r.q, r.args...); err != nil {
					return err
				}
				for _, f := range r.fields {
					if _, err := w.exec(`INSERT INTO event_fields (event_id, path, value_key, created_at) VALUES (?, ?, ?, ?)`,
						r.args[0], f.Path, f.Key, r.args[5]); err != nil {
						return err
					}
				}
			}
			// Endpoints may have been added: forget what the caches know,
			// and make new delivery ids come after the imported ones.
			w.forgetAll()
			if newest != "" {
				w.ids.observe(newest)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "sqlite: imported records", "records", n)
	return nil
}

// importRow decodes a record into its INSERT.
func (s *Store) importRow(rec store.Record) (importRow, error) {
	q := importQueries[rec.Kind]
	decode := func(v any) error {
		if err := json.Unmarshal(rec.Data, v); err != nil {
			return fmt.Errorf("decode %s: %w", rec.Kind, err)
		}
		return nil
	}
	switch rec.Kind {
	case store.KindAudit:
		var r store.AuditRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: []any{r.ID, r.At, r.ActorKind, r.ActorID, nullTenant(r.Tenant), r.Action, r.Target, r.RemoteAddr, r.Detail}}, nil
	case store.KindAPIKey:
		var r store.APIKeyRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		scopes, err := scopesJSON(r.Scopes)
		if err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: []any{r.ID, r.Name, r.Hash, r.Prefix, r.CreatedAt, r.LastUsedAt, r.RevokedAt,
			nullTenant(r.Tenant), scopes}}, nil
	case store.KindEndpoint:
		var r store.EndpointRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		if _, err := s.cipher.Open(r.SealedSecrets); err != nil {
			return importRow{}, fmt.Errorf("endpoint %s: its secrets do not open with this store's Cipher (export and import need the same key): %w", r.ID, err)
		}
		if r.EventTypes == nil {
			r.EventTypes = []string{}
		}
		types, err := json.Marshal(r.EventTypes)
		if err != nil {
			return importRow{}, err
		}
		var custom any
		if r.CustomScheme != nil {
			custom = string(r.CustomScheme)
		}
		set, err := r.SettingsColumns(s.cipher)
		if err != nil {
			return importRow{}, err
		}
		args := append([]any{r.ID, r.Tenant, r.URL, r.Description, r.Scheme, custom, r.SealedSecrets, string(types),
			boolInt(r.Disabled), r.DisabledReason, boolInt(r.FIFO), r.RateLimit, r.FailingSince, store.RecordFilter(r.Filter), r.CreatedAt, r.UpdatedAt}, set...)
		return importRow{q: q, args: append(args, boolInt(r.TraceContext))}, nil
	case store.KindSource:
		var r store.SourceRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		if _, err := s.cipher.Open(r.SealedSecrets); err != nil {
			return importRow{}, fmt.Errorf("source %s: its secrets do not open with this store's Cipher (export and import need the same key): %w", r.ID, err)
		}
		var custom any
		if r.CustomScheme != nil {
			custom = string(r.CustomScheme)
		}
		return importRow{q: q, args: []any{r.ID, r.Name, r.Description, r.Scheme, custom, r.SealedSecrets, r.ToleranceMS,
			r.DedupeMS, boolInt(r.SlackChallenge), r.CreatedAt, r.UpdatedAt}}, nil
	case store.KindEventType:
		var r store.EventTypeRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: sqliteArgs(store.EventTypeArgs(r.EventType()))}, nil
	case store.KindEvent:
		var r store.EventRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		var headers any
		if len(r.Headers) > 0 {
			h, err := store.EncodeEventHeaders(r.Headers)
			if err != nil {
				return importRow{}, err
			}
			headers = h
		}
		var fields []store.IndexedField
		if r.ErasedAt == nil {
			fields = store.PayloadFields(r.Payload, s.searchPaths)
		}
		return importRow{q, []any{r.ID, r.Tenant, r.Type, string(r.Payload), r.IdempotencyKey, r.CreatedAt,
			r.ContentType, headers, r.TraceParent, r.ErasedAt}, fields}, nil
	case store.KindIdempotencyKey:
		var r store.IdempotencyKeyRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: []any{r.Tenant, r.IdempotencyKey, r.EventID, r.CreatedAt}}, nil
	case store.KindDelivery:
		var r store.DeliveryRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: []any{r.ID, r.EventID, r.EndpointID, r.Tenant, r.EventType, r.Status, r.Attempts,
			r.NextAttemptAt, r.Claim, r.LeasedUntil, boolInt(r.Hold), r.LastStatus, r.LastError, boolInt(r.FIFO),
			r.CreatedAt, r.UpdatedAt, r.CompletedAt}}, nil
	case store.KindAttempt:
		var r store.AttemptRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		if r.RequestHeaders == nil {
			r.RequestHeaders = map[string]string{}
		}
		headers, err := json.Marshal(r.RequestHeaders)
		if err != nil {
			return importRow{}, err
		}
		var body any
		if r.ResponseBody != nil {
			body = r.ResponseBody
		}
		return importRow{q: q, args: []any{r.ID, r.DeliveryID, r.EndpointID, r.EventID, r.Number, r.StartedAt, r.DurationNS,
			r.URL, string(headers), r.StatusCode, r.Error, body, r.Trigger}}, nil
	}
	return importRow{}, errors.New("unknown kind " + rec.Kind)
}

func exportEventType(_ *Store, rows *sql.Rows) (any, error) {
	t, err := scanEventType(rows)
	if err != nil {
		return nil, err
	}
	return store.EventTypeRecordOf(t), nil
}
