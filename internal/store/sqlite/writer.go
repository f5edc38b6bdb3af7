package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// maxBatch bounds how many operations one transaction of the writer runs.
const maxBatch = 256

// maxTenantCache bounds the fan-out cache; past it the cache starts over.
const maxTenantCache = 10000

// writeOp is one write operation queued for the writer. fn runs on the
// writer goroutine inside the batch's transaction; it may run more than once
// (when another operation of the batch fails after writing and the batch is
// run again without it), so it must reset whatever it reports on each run.
type writeOp struct {
	ctx  context.Context
	fn   func(w *writer) error
	err  error
	out  bool // answered with err without committing
	done chan error
}

// write runs fn on the writer and returns once its transaction is committed
// (or fn failed). ctx bounds the wait for a place in the queue and, if done
// before fn starts, cancels it; once fn runs, write waits for the commit.
func (s *Store) write(ctx context.Context, fn func(w *writer) error) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.ops <- op:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	return s.health.Failed(<-op.done)
}

// writer owns the writing connection. All its fields belong to its
// goroutine.
type writer struct {
	s     *Store
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	ids   idGen
	dirty bool // the running operation has changed rows

	// tenants holds, per tenant, its enabled endpoints (ID, EventTypes,
	// FIFO, Filter and UpdatedAt only), for fan-out.
	tenants map[string][]*store.Endpoint
	// endpoints holds decrypted endpoints by id, with every secret.
	endpoints map[string]*store.Endpoint
}

func newWriter(s *Store, conn *sql.Conn) *writer {
	return &writer{
		s:         s,
		conn:      conn,
		stmts:     make(map[string]*sql.Stmt),
		tenants:   make(map[string][]*store.Endpoint),
		endpoints: make(map[string]*store.Endpoint),
	}
}

// run is the writer goroutine. It stops when ops is closed and drained.
func (w *writer) run() {
	defer close(w.s.done)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		op, ok := <-w.s.ops
		if !ok {
			return
		}
		batch = append(batch[:0], op)
		open := true
	drain:
		for len(batch) < maxBatch {
			select {
			case op, ok := <-w.s.ops:
				if !ok {
					open = false
					break drain
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		w.runBatch(batch)
		clear(batch)
		if !open {
			return
		}
	}
}

// cleanFailure reports whether an operation's error leaves the transaction
// usable as it is: a store outcome reached before anything was written.
func cleanFailure(err error, dirty bool) bool {
	if dirty {
		return false
	}
	var fe *fnError
	return errors.As(err, &fe) || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrLeaseLost)
}

// fnError carries the error of a caller's function that an operation runs
// (UpdateEndpoint's fn), so that, returned before anything was written, it
// fails only its operation and not the others of the batch.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }

// unwrapFn returns the caller's error that err carries, or err.
func unwrapFn(err error) error {
	var fe *fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	return err
}

// runBatch runs the operations in one transaction and answers them.
func (w *writer) runBatch(batch []*writeOp) {
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err, op.out = err, true
		}
	}
	for {
		if err := w.execControl("BEGIN IMMEDIATE"); err != nil {
			w.s.log.ErrorContext(context.Background(), "sqlite writer: begin", "err", err)
			w.answerAll(batch, fmt.Errorf("begin: %w", interpretError(err)))
			return
		}
		rerun := false
		for _, op := range batch {
			if op.out {
				continue
			}
			w.dirty = false
			err := op.fn(w)
			if err == nil {
				continue
			}
			op.err, op.out = err, true
			if !cleanFailure(err, w.dirty) {
				w.s.log.DebugContext(context.Background(), "sqlite writer: an operation failed after writing; running the batch again without it",
					"err", err, "ops", len(batch))
				rerun = true
				break
			}
		}
		if rerun {
			// One operation failed after writing: undo the whole
			// transaction and run the others again without it.
			if err := w.execControl("ROLLBACK"); err != nil {
				w.s.log.ErrorContext(context.Background(), "sqlite writer: rollback", "err", err)
			}
			w.forgetAll()
			continue
		}
		if err := w.execControl("COMMIT"); err != nil {
			w.s.log.ErrorContext(context.Background(), "sqlite writer: commit", "err", err, "ops", len(batch))
			w.execControl("ROLLBACK")
			w.forgetAll()
			w.answerAll(batch, fmt.Errorf("commit: %w", interpretError(err)))
			return
		}
		for _, op := range batch {
			op.done <- op.err
		}
		return
	}
}

// answerAll fails every operation of batch that has not failed already.
func (w *writer) answerAll(batch []*writeOp, err error) {
	for _, op := range batch {
		if op.out {
			op.done <- op.err
		} else {
			op.done <- err
		}
	}
}

func (w *writer) execControl(q string) error {
	st, err := w.stmt(q)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(context.Background())
	return err
}

// close checkpoints the WAL and releases the writer's connection.
func (w *writer) close() error {
	var errs []error
	if _, err := w.conn.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint: %w", err))
	}
	for _, st := range w.stmts {
		errs = append(errs, st.Close())
	}
	w.stmts = nil
	errs = append(errs, w.conn.Close())
	return errors.Join(errs...)
}

// stmt returns the writer's prepared statement for a constant query.
func (w *writer) stmt(q string) (*sql.Stmt, error) {
	if st, ok := w.stmts[q]; ok {
		return st, nil
	}
	st, err := w.conn.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	w.stmts[q] = st
	return st, nil
}

// exec runs a constant statement and returns how many rows it changed.
func (w *writer) exec(q string, args ...any) (int64, error) {
	st, err := w.stmt(q)
	if err != nil {
		return 0, err
	}
	res, err := st.ExecContext(context.Background(), args...)
	if err != nil {
		return 0, interpretError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		w.dirty = true
		return 0, err
	}
	if n > 0 {
		w.dirty = true
	}
	return n, nil
}

// query runs a constant read-only query.
func (w *writer) query(q string, args ...any) (*sql.Rows, error) {
	st, err := w.stmt(q)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(context.Background(), args...)
	return rows, interpretError(err)
}

// queryRow runs a constant read-only query for one row.
func (w *writer) queryRow(q string, args ...any) *sql.Row {
	st, err := w.stmt(q)
	if err != nil {
		// sql.Row cannot carry an error of ours; prepare again unprepared
		// so that Scan reports the failure.
		return w.conn.QueryRowContext(context.Background(), q, args...)
	}
	return st.QueryRowContext(context.Background(), args...)
}

// queryWrite runs a writing statement with a RETURNING clause. dynamic
// queries are not kept prepared.
func (w *writer) queryWrite(q string, dynamic bool, args ...any) (*sql.Rows, error) {
	w.dirty = true
	if dynamic {
		rows, err := w.conn.QueryContext(context.Background(), q, args...)
		return rows, interpretError(err)
	}
	return w.query(q, args...)
}

// forgetEndpoint drops what the caches know about an endpoint; every write
// to an endpoint row calls it.
func (w *writer) forgetEndpoint(id string) {
	delete(w.endpoints, id)
	clear(w.tenants)
}

// forgetAll empties the caches, after a rollback.
func (w *writer) forgetAll() {
	clear(w.endpoints)
	clear(w.tenants)
}

// idGen makes ids in store.NewID's format that increase strictly: within a
// millisecond (or if the clock goes back) the random part is incremented.
type idGen struct {
	ms int64
	b  [16]byte
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

func (g *idGen) next(prefix string) string {
	now := time.Now().UnixMilli()
	if now > g.ms {
		g.ms = now
		binary.BigEndian.PutUint64(g.b[:8], uint64(now)<<16)
		rand.Read(g.b[6:])
		g.b[6] &= 0x7f // headroom, so that increments never reach the time
	} else {
		for i := len(g.b) - 1; i >= 0; i-- {
			g.b[i]++
			if g.b[i] != 0 {
				break
			}
		}
	}
	var buf [27 + 26]byte
	out := append(buf[:0], prefix...)
	out = append(out, '_')
	out = idEncoding.AppendEncode(out, g.b[:])
	return string(out)
}

// observe makes the generator continue after id.
func (g *idGen) observe(id string) {
	i := strings.LastIndexByte(id, '_')
	b, err := idEncoding.DecodeString(id[i+1:])
	if err != nil || len(b) != 16 || string(b) <= string(g.b[:]) {
		return
	}
	copy(g.b[:], b)
	g.ms = int64(binary.BigEndian.Uint64(b[:8]) >> 16)
}

// seedIDs continues the id sequence after the newest stored delivery, in
// case the clock went back since it was written.
func (w *writer) seedIDs(ctx context.Context) error {
	var id sql.NullString
	if err := w.conn.QueryRowContext(ctx, "SELECT max(id) FROM deliveries").Scan(&id); err != nil {
		return fmt.Errorf("seed ids: %w", err)
	}
	if id.Valid {
		w.ids.observe(id.String)
	}
	return nil
}
