package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
)

const (
	deliveryRecordCols = `id, event_id, endpoint_id, tenant, event_type, status, attempts, next_attempt_at, claim,
		leased_until, hold, last_status, last_error, fifo, created_at, updated_at, completed_at`
	attemptRecordCols = `id, delivery_id, endpoint_id, event_id, attempt_number, started_at, duration_ns, url,
		request_headers, status_code, error_message, response_body, trigger_kind`
)

// exportQueries read each table for Export, in the order of
// store.RecordKinds, each in key order.
var exportQueries = []struct {
	kind string
	q    string
	row  func(rows pgx.Rows) (any, error)
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

func exportAudit(rows pgx.Rows) (any, error) {
	var r store.AuditRecord
	if err := rows.Scan(&r.ID, &r.At, &r.ActorKind, &r.ActorID, &r.Tenant, &r.Action, &r.Target, &r.RemoteAddr, &r.Detail); err != nil {
		return nil, err
	}
	return &r, nil
}

// Export calls fn with every row of every table as store.Records, in the
// order of store.RecordKinds, each table in key order, from one REPEATABLE
// READ, READ ONLY transaction: a consistent snapshot, which other nodes'
// writes do not wait for, but which keeps vacuum from reclaiming the rows
// they delete while the export runs. Endpoint and source secrets are
// exported sealed. It stops at fn's first error and returns it wrapped.
func (s *Store) Export(ctx context.Context, fn func(store.Record) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, t := range exportQueries {
		if err := exportTable(ctx, tx, t.kind, t.q, t.row, fn); err != nil {
			return fmt.Errorf("export %s records: %w", t.kind, err)
		}
	}
	return nil
}

func exportTable(ctx context.Context, tx pgx.Tx, kind, q string, row func(pgx.Rows) (any, error), fn func(store.Record) error) error {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		data, err := row(rows)
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

func exportAPIKey(rows pgx.Rows) (any, error) {
	var (
		r      store.APIKeyRecord
		scopes string
	)
	if err := rows.Scan(&r.ID, &r.Name, &r.Hash, &r.Prefix, &r.CreatedAt, &r.LastUsedAt, &r.RevokedAt, &r.Tenant, &scopes); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(scopes), &r.Scopes); err != nil {
		return nil, fmt.Errorf("api key %s: decode scopes: %w", r.ID, err)
	}
	return &r, nil
}

func exportEndpoint(rows pgx.Rows) (any, error) {
	var (
		r         store.EndpointRecord
		types     string
		settings  []byte
		timeoutMS int64
		sched     *string
	)
	if err := rows.Scan(&r.ID, &r.Tenant, &r.URL, &r.Description, &r.Scheme, &r.CustomScheme, &r.SealedSecrets, &types,
		&r.Disabled, &r.DisabledReason, &r.FIFO, &r.RateLimit, &r.FailingSince, &r.Filter, &r.CreatedAt, &r.UpdatedAt,
		&settings, &timeoutMS, &sched, &r.TraceContext); err != nil {
		return nil, err
	}
	if err := r.SetSettingsColumns(settings, timeoutMS, sched); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(types), &r.EventTypes); err != nil {
		return nil, fmt.Errorf("endpoint %s: decode event types: %w", r.ID, err)
	}
	return &r, nil
}

func exportSource(rows pgx.Rows) (any, error) {
	var r store.SourceRecord
	if err := rows.Scan(&r.ID, &r.Name, &r.Description, &r.Scheme, &r.CustomScheme, &r.SealedSecrets, &r.ToleranceMS,
		&r.DedupeMS, &r.SlackChallenge, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	return &r, nil
}

func exportEvent(rows pgx.Rows) (any, error) {
	ev, err := scanErasedEvent(rows)
	if err != nil {
		return nil, err
	}
	return store.EventRecordOf(ev), nil
}

func exportIdempotencyKey(rows pgx.Rows) (any, error) {
	var r store.IdempotencyKeyRecord
	if err := rows.Scan(&r.Tenant, &r.IdempotencyKey, &r.EventID, &r.CreatedAt); err != nil {
		return nil, err
	}
	return &r, nil
}

func exportDelivery(rows pgx.Rows) (any, error) {
	var r store.DeliveryRecord
	if err := rows.Scan(&r.ID, &r.EventID, &r.EndpointID, &r.Tenant, &r.EventType, &r.Status, &r.Attempts,
		&r.NextAttemptAt, &r.Claim, &r.LeasedUntil, &r.Hold, &r.LastStatus, &r.LastError, &r.FIFO, &r.CreatedAt,
		&r.UpdatedAt, &r.CompletedAt); err != nil {
		return nil, err
	}
	return &r, nil
}

func exportAttempt(rows pgx.Rows) (any, error) {
	var (
		r       store.AttemptRecord
		headers string
	)
	if err := rows.Scan(&r.ID, &r.DeliveryID, &r.EndpointID, &r.EventID, &r.Number, &r.StartedAt, &r.DurationNS,
		&r.URL, &headers, &r.StatusCode, &r.Error, &r.ResponseBody, &r.Trigger); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(headers), &r.RequestHeaders); err != nil {
		return nil, fmt.Errorf("attempt %s: decode headers: %w", r.ID, err)
	}
	return &r, nil
}

// The statements of Import, one per kind.
var importQueries = map[string]string{
	store.KindAPIKey:    `INSERT INTO api_keys (` + apiKeyCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
	store.KindEndpoint:  `INSERT INTO endpoints (` + endpointCols + `) VALUES (` + endpointValues + `)`,
	store.KindSource:    `INSERT INTO sources (` + sourceCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
	store.KindEventType: `INSERT INTO event_types (` + store.EventTypeCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
	store.KindEvent: `INSERT INTO events (id, tenant, event_type, payload, idempotency_key, created_at, content_type, headers,
		traceparent, erased_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
	store.KindIdempotencyKey: `INSERT INTO idempotency_keys (tenant, idempotency_key, event_id, created_at) VALUES ($1, $2, $3, $4)`,
	store.KindDelivery: `INSERT INTO deliveries (` + deliveryRecordCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
	store.KindAttempt: `INSERT INTO attempts (` + attemptRecordCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
	store.KindAudit:   `INSERT INTO audit_log (` + auditCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
}

// usedQuery is true when a table Import writes has a row.
const usedQuery = `SELECT EXISTS (SELECT 1 FROM api_keys) OR EXISTS (SELECT 1 FROM endpoints) OR EXISTS (SELECT 1 FROM sources)
	OR EXISTS (SELECT 1 FROM event_types) OR EXISTS (SELECT 1 FROM events) OR EXISTS (SELECT 1 FROM idempotency_keys) OR EXISTS (SELECT 1 FROM deliveries)
	OR EXISTS (SELECT 1 FROM attempts) OR EXISTS (SELECT 1 FROM audit_log)`

// importRow is one record made ready for its INSERT.
type importRow struct {
	q    string
	args []any
	// fields are the arguments of insertFieldsQuery for an event's
	// searchable payload fields, nil for none.
	fields []any
}

// Import inserts records, as Export writes them (from this store or the
// SQLite one), into an empty store, preserving every id and field,
// store.ImportBatch records per transaction, each sent in one round trip.
// ErrConflict, and nothing written, if the store is not empty. Records
// must come in the order of store.RecordKinds; the sealed secrets of
// endpoints and sources must open with this store's Cipher (the exporting
// store must have used the same key). Attempt errors and delivery errors are cleaned
// of what a TEXT column refuses (NUL, invalid UTF-8), as this store's own
// writes are. An error from records, or from a record, stops the import
// and is returned wrapped; the batches committed before it stay.
func (s *Store) Import(ctx context.Context, records iter.Seq2[store.Record, error]) error {
	var newest string // the newest delivery id imported
	n, err := store.ImportRecords(records, func(rec store.Record) (importRow, error) {
		row, err := s.importRow(rec)
		if err == nil && rec.Kind == store.KindDelivery {
			newest = max(newest, row.args[0].(string))
		}
		return row, err
	}, func(rows []importRow, first bool) error {
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if first {
				// Nodes importing at once would both find the store
				// empty: one import per database at a time.
				if _, err := tx.Exec(ctx, `LOCK TABLE api_keys, endpoints, sources, events, idempotency_keys, deliveries,
					attempts, audit_log IN SHARE ROW EXCLUSIVE MODE`); err != nil {
					return err
				}
				var used bool
				if err := tx.QueryRow(ctx, usedQuery).Scan(&used); err != nil {
					return err
				}
				if used {
					return fmt.Errorf("%w: the store is not empty", store.ErrConflict)
				}
			}
			if len(rows) == 0 {
				return nil
			}
			b := &pgx.Batch{}
			for _, r := range rows {
				b.Queue(r.q, r.args...)
				if r.fields != nil {
					b.Queue(insertFieldsQuery, r.fields...)
				}
			}
			br := tx.SendBatch(ctx, b)
			for range b.Len() {
				if _, err := br.Exec(); err != nil {
					br.Close()
					return interpretError(err)
				}
			}
			return br.Close()
		})
		if err == nil && newest != "" {
			s.ids.observe(newest)
		}
		return err
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "postgres: imported records", "records", n)
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
		return importRow{q: q, args: []any{r.ID, r.At, r.ActorKind, r.ActorID, r.Tenant, r.Action, r.Target, r.RemoteAddr, r.Detail}}, nil
	case store.KindAPIKey:
		var r store.APIKeyRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		scopes, err := scopesJSON(r.Scopes)
		if err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: []any{r.ID, r.Name, r.Hash, r.Prefix, r.CreatedAt, r.LastUsedAt, r.RevokedAt, r.Tenant, scopes}}, nil
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
		set, err := r.SettingsColumns(s.cipher)
		if err != nil {
			return importRow{}, err
		}
		args := append([]any{r.ID, r.Tenant, r.URL, r.Description, r.Scheme, r.CustomScheme, r.SealedSecrets,
			string(types), r.Disabled, r.DisabledReason, r.FIFO, r.RateLimit, r.FailingSince, store.RecordFilter(r.Filter), r.CreatedAt, r.UpdatedAt}, set...)
		return importRow{q: q, args: append(args, r.TraceContext)}, nil
	case store.KindSource:
		var r store.SourceRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		if _, err := s.cipher.Open(r.SealedSecrets); err != nil {
			return importRow{}, fmt.Errorf("source %s: its secrets do not open with this store's Cipher (export and import need the same key): %w", r.ID, err)
		}
		return importRow{q: q, args: []any{r.ID, r.Name, r.Description, r.Scheme, r.CustomScheme, r.SealedSecrets, r.ToleranceMS,
			r.DedupeMS, r.SlackChallenge, r.CreatedAt, r.UpdatedAt}}, nil
	case store.KindEventType:
		var r store.EventTypeRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		return importRow{q: q, args: store.EventTypeArgs(r.EventType())}, nil
	case store.KindEvent:
		var r store.EventRecord
		if err := decode(&r); err != nil {
			return importRow{}, err
		}
		var headers *string
		if len(r.Headers) > 0 {
			h, err := store.EncodeEventHeaders(r.Headers)
			if err != nil {
				return importRow{}, err
			}
			headers = &h
		}
		if r.Payload == nil {
			r.Payload = []byte{}
		}
		var fields []any
		if r.ErasedAt == nil {
			fields = fieldArgs(r.ID, r.CreatedAt, store.PayloadFields(r.Payload, s.searchPaths))
		}
		return importRow{q, []any{r.ID, r.Tenant, r.Type, r.Payload, r.IdempotencyKey, r.CreatedAt,
			r.ContentType, headers, cleanText(r.TraceParent), r.ErasedAt}, fields}, nil
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
			r.NextAttemptAt, r.Claim, r.LeasedUntil, r.Hold, r.LastStatus, cleanText(r.LastError), r.FIFO,
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
		return importRow{q: q, args: []any{r.ID, r.DeliveryID, r.EndpointID, r.EventID, r.Number, r.StartedAt, r.DurationNS,
			r.URL, string(headers), r.StatusCode, cleanText(r.Error), r.ResponseBody, r.Trigger}}, nil
	}
	return importRow{}, errors.New("unknown kind " + rec.Kind)
}

func exportEventType(rows pgx.Rows) (any, error) {
	t, err := scanEventType(rows)
	if err != nil {
		return nil, err
	}
	return store.EventTypeRecordOf(t), nil
}
