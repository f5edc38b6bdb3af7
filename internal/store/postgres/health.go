package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookrelay/hookrelay/internal/store"
)

var _ store.HealthChecker = (*Store)(nil)

// Health reports whether the store can write: an error wrapping
// store.ErrUnavailable when, within the last store.DefaultHealthWindow, a
// statement of this Store failed because the server's disk is full, the
// database is read-only or an I/O error, else what Ping reports. See
// store.HealthChecker.
func (s *Store) Health(ctx context.Context) error {
	return s.health.Check(ctx, s.Ping)
}

// SQLSTATE codes of a server that cannot write for now.
const (
	insufficientResources = "53000"
	diskFull              = "53100"
	ioError               = "58030"
	readOnlyTransaction   = "25006"
)

// unavailable wraps err with store.ErrUnavailable when the server refused
// a statement for lack of disk space, an I/O error or because the
// database is read-only (a standby, or default_transaction_read_only), and
// returns other errors as they are. The server's error stays in the chain.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case insufficientResources, diskFull, ioError, readOnlyTransaction:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}

// healthTracer sees the outcome of every statement the pool runs, on every
// path (queries, batches, commits), and records in h those that failed for
// want of a writable database.
type healthTracer struct{ h *store.WriteHealth }

var (
	_ pgx.QueryTracer = healthTracer{}
	_ pgx.BatchTracer = healthTracer{}
)

func (t healthTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (t healthTracer) TraceQueryEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	t.h.Failed(unavailable(d.Err))
}

func (t healthTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (t healthTracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	t.h.Failed(unavailable(d.Err))
}

func (t healthTracer) TraceBatchEnd(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	t.h.Failed(unavailable(d.Err))
}
