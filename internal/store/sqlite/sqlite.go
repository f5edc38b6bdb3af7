package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hookrelay/hookrelay/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the schema migrations of the store, goose SQL files
// named NNNNN_name.sql at the root, numbered as the other store's: what
// Open and Migrate apply, and what internal/store/storeopen's
// MigrationStatus compares a database with.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the directory is embedded: it exists
	}
	return sub
}

var (
	// ErrLocked is returned by Open and Migrate when another Store, in this
	// process or another, has the database open.
	ErrLocked = errors.New("sqlite: database is in use by another process")
	// ErrClosed is returned by the write methods of a closed Store.
	ErrClosed = errors.New("sqlite: store is closed")
)

// Config configures a Store. Cipher is required; every other field has a
// working zero value.
type Config struct {
	// Cipher seals endpoint secrets at rest (internal/secretbox.Box
	// implements it). Required.
	Cipher store.Cipher
	// Synchronous is SQLite's synchronous setting: "full" (the default)
	// fsyncs the WAL at every commit, so a committed write survives a power
	// cut; "normal" survives a crash of the process but may lose the last
	// commits on a power cut, for fewer fsyncs.
	Synchronous string
	// Logger receives the store's logs. nil discards them.
	Logger *slog.Logger
	// BusyTimeout is how long a connection waits for a lock held by another
	// connection before failing. 0 means 5s.
	BusyTimeout time.Duration
	// NodeID names this process in the leases its claims take (the
	// deliveries' leased_by), for inspection; "" leaves it NULL. Which
	// leases ReleaseLeases takes back does not depend on it: the Store
	// holds the database's lock file, so every lease found at start is a
	// dead process's.
	NodeID string
	// MaxPageCount caps the database's size in pages (of 4 KiB), as
	// SQLite's max_page_count: a write that would grow it further fails
	// with store.ErrUnavailable, as on a full disk. 0 means no cap but the
	// disk's. A cap below the database's size is raised to it.
	MaxPageCount int64
	// SearchFields are the payload paths indexed for ListEvents and
	// ListDeliveries (see store.SearchPaths and the store package's
	// search.go); none by default.
	SearchFields []string
}

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use. Create it with Open and release it with Close.
type Store struct {
	cipher store.Cipher
	log    *slog.Logger
	lock   *os.File
	node   sql.NullString // Config.NodeID, NULL when ""
	wdb    *sql.DB        // one connection, owned by the writer goroutine
	rdb    *sql.DB        // query_only pool
	// edb is a query_only connection of the delivery engine's own, for the
	// events of claimed deliveries: busy dashboards on rdb must not hold
	// up deliveries.
	edb *sql.DB

	rmu    sync.RWMutex
	rstmts map[string]*sql.Stmt // prepared statements of the read pool

	mu     sync.RWMutex // guards closed against concurrent sends on ops
	closed bool
	ops    chan *writeOp
	done   chan struct{} // closed when the writer has stopped
	w      *writer

	dispatch atomic.Pointer[dispatchConfig] // nil: claim nothing at creation

	health store.WriteHealth // failures of writes, for Health

	filters store.FilterCache // compiled payload filters, for fan-out

	searchPaths []string // Config.SearchFields, checked and sorted
}

// dispatchConfig is what SetDispatcher set.
type dispatchConfig struct {
	d     store.Dispatcher
	lease time.Duration
}

// Dispatching reports whether a dispatcher is set.
func (s *Store) Dispatching() bool { return s.dispatch.Load() != nil }

// SetDispatcher makes CreateEvent claim the deliveries d admits and hand
// them to d; nil stops it. It reports true: one process alone uses a
// SQLite database, so its engine's own limits are the only ones. See
// store.Capabilities.
func (s *Store) SetDispatcher(d store.Dispatcher, lease time.Duration) bool {
	if d == nil || lease <= 0 {
		s.dispatch.Store(nil)
		return true
	}
	s.dispatch.Store(&dispatchConfig{d: d, lease: lease})
	return true
}

// Shared reports false: one process alone opens a database (Open takes a
// lock file beside it where the platform has one), so no other claims
// from it.
func (s *Store) Shared() bool { return false }

// Locker returns nil: one process alone uses the database, and needs no
// election.
func (s *Store) Locker() store.AdvisoryLocker { return nil }

var _ store.Store = (*Store)(nil)

const defaultBusyTimeout = 5 * time.Second

type dsnConfig struct {
	busy     time.Duration
	sync     string
	readOnly bool
	maxPages int64
}

// Memory. The writer's page cache is what keeps claims and completions fast
// on a large queue, so it is the one large cache. A reader's cache is
// dropped whenever the database changes, which under load is always, so
// readers keep SQLite's default small one; and they map nothing: a memory
// mapping is counted in the process's RSS for every connection that
// touches a page, which on a queue of a million deliveries made RSS many
// times the database's working set. Bounded so: writerCacheKiB, plus
// readerCacheKiB per read connection (at most maxReaders, and the engine's
// own), plus what the
// Go runtime holds.
const (
	writerCacheKiB = 64000
	readerCacheKiB = 2000
	maxReaders     = 8
)

// dsn builds the modernc.org/sqlite data source name for path.
func dsn(path string, c dsnConfig) string {
	q := []string{
		"_busy_timeout=" + strconv.FormatInt(c.busy.Milliseconds(), 10),
		"_foreign_keys=1",
		"_pragma=temp_store(memory)",
	}
	if c.readOnly {
		q = append(q, "_query_only=1", "_pragma=cache_size(-"+strconv.Itoa(readerCacheKiB)+")", "_pragma=mmap_size(0)")
	} else {
		q = append(q, "_journal_mode=WAL", "_synchronous="+c.sync, "_pragma=cache_size(-"+strconv.Itoa(writerCacheKiB)+")",
			"_pragma=mmap_size(0)", "_pragma=wal_autocheckpoint(4000)")
		if c.maxPages > 0 {
			q = append(q, "_pragma=max_page_count("+strconv.FormatInt(c.maxPages, 10)+")")
		}
	}
	return path + "?" + strings.Join(q, "&")
}

func configure(cfg *Config) (dsnConfig, *slog.Logger, error) {
	if cfg == nil || cfg.Cipher == nil {
		return dsnConfig{}, nil, errors.New("sqlite: Config.Cipher is required")
	}
	if cfg.MaxPageCount < 0 {
		return dsnConfig{}, nil, fmt.Errorf("sqlite: Config.MaxPageCount is %d, want 0 or more", cfg.MaxPageCount)
	}
	c := dsnConfig{busy: cfg.BusyTimeout, sync: "FULL", maxPages: cfg.MaxPageCount}
	if c.busy <= 0 {
		c.busy = defaultBusyTimeout
	}
	switch strings.ToLower(cfg.Synchronous) {
	case "", "full":
	case "normal":
		c.sync = "NORMAL"
	default:
		return dsnConfig{}, nil, fmt.Errorf("sqlite: Config.Synchronous is %q, want \"full\" or \"normal\"", cfg.Synchronous)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return c, log, nil
}

func checkPath(path string) error {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return fmt.Errorf("sqlite: database path %q: want a plain file path", path)
	}
	return nil
}

// Open opens (creating it if needed) the database at path, applies any
// pending migrations and starts the writer. It fails with ErrLocked if
// another Store has the database open.
func Open(ctx context.Context, path string, cfg *Config) (*Store, error) {
	dc, log, err := configure(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkPath(path); err != nil {
		return nil, err
	}
	paths, err := store.SearchPaths(cfg.SearchFields)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := protectFiles(path); err != nil {
		unlockFile(lock)
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{
		cipher:      cfg.Cipher,
		searchPaths: paths,
		log:         log,
		lock:        lock,
		node:        sql.NullString{String: cfg.NodeID, Valid: cfg.NodeID != ""},
		rstmts:      make(map[string]*sql.Stmt),
		ops:         make(chan *writeOp, 2*maxBatch),
		done:        make(chan struct{}),
	}
	if err := s.open(ctx, path, dc); err != nil {
		s.closeDBs()
		unlockFile(lock)
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	go s.w.run()
	log.InfoContext(ctx, "sqlite store open", "path", path, "synchronous", dc.sync)
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, dc dsnConfig) error {
	var err error
	s.wdb, err = sql.Open("sqlite", dsn(path, dc))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	s.wdb.SetMaxIdleConns(1)
	s.wdb.SetConnMaxLifetime(0)
	s.wdb.SetConnMaxIdleTime(0)
	if err := migrate(ctx, s.wdb, s.log); err != nil {
		return err
	}
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return fmt.Errorf("writer connection: %w", err)
	}
	s.w = newWriter(s, conn)
	if err := s.w.seedIDs(ctx); err != nil {
		return err
	}

	rc := dc
	rc.readOnly = true
	s.rdb, err = sql.Open("sqlite", dsn(path, rc))
	if err != nil {
		return err
	}
	n := min(max(4, runtime.GOMAXPROCS(0)), maxReaders)
	s.rdb.SetMaxOpenConns(n)
	s.rdb.SetMaxIdleConns(n)
	s.rdb.SetConnMaxLifetime(0)
	s.rdb.SetConnMaxIdleTime(0)
	if err := s.rdb.PingContext(ctx); err != nil {
		return fmt.Errorf("read pool: %w", err)
	}
	if s.edb, err = sql.Open("sqlite", dsn(path, rc)); err != nil {
		return err
	}
	s.edb.SetMaxOpenConns(1)
	s.edb.SetMaxIdleConns(1)
	s.edb.SetConnMaxLifetime(0)
	s.edb.SetConnMaxIdleTime(0)
	if err := s.edb.PingContext(ctx); err != nil {
		return fmt.Errorf("engine read connection: %w", err)
	}
	return nil
}

// closeDBs closes whatever open managed to open.
func (s *Store) closeDBs() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.w.close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	s.rmu.Lock()
	for _, st := range s.rstmts {
		errs = append(errs, st.Close())
	}
	s.rstmts = nil
	s.rmu.Unlock()
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	if s.edb != nil {
		errs = append(errs, s.edb.Close())
	}
	return errors.Join(errs...)
}

// Migrate applies every pending migration to the database at path and
// returns. Open does the same; Migrate is for running it on its own, for
// instance before a deploy. It fails with ErrLocked if a Store has the
// database open.
func Migrate(ctx context.Context, path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	lock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	defer unlockFile(lock)
	if err := protectFiles(path); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path, dsnConfig{busy: defaultBusyTimeout, sync: "FULL"}))
	if err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := migrate(ctx, db, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}
	return nil
}

// MigrationVersions returns the versions of the schema migrations this
// package applies, oldest first: the goose numbering of its migrations
// directory, which the PostgreSQL store shares. `hookrelay migrate --status`
// compares them with those a database has applied, to list the pending
// ones.
func MigrationVersions() ([]int64, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("migration versions: %w", err)
	}
	versions := make([]int64, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration versions: %s: %w", name, err)
		}
		versions = append(versions, v)
	}
	slices.Sort(versions)
	return versions, nil
}

func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		log.InfoContext(ctx, "applied migration", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Close finishes the queued writes, stops the writer and closes the
// database. Calling it again does nothing.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.ops)
	s.mu.Unlock()
	<-s.done
	err := s.closeDBs()
	if uerr := unlockFile(s.lock); uerr != nil && err == nil {
		err = uerr
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return fmt.Errorf("ping: %w", ErrClosed)
	}
	return nil
}

// interpretError translates driver errors to the store's sentinels:
// sql.ErrNoRows to store.ErrNotFound, uniqueness violations to
// store.ErrConflict, and a full disk or database (SQLITE_FULL), a
// read-only database or file system (SQLITE_READONLY and its extended
// codes) and I/O errors (SQLITE_IOERR and its extended codes) to
// store.ErrUnavailable. Other errors are returned as they are.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		}
		// The primary result code is the low byte of an extended one.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR:
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}

// readStmt returns a prepared statement of the read pool for a constant
// query.
func (s *Store) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	s.rmu.RLock()
	st := s.rstmts[q]
	s.rmu.RUnlock()
	if st != nil {
		return st, nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.rstmts == nil {
		return nil, ErrClosed
	}
	if st := s.rstmts[q]; st != nil {
		return st, nil
	}
	st, err := s.rdb.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	s.rstmts[q] = st
	return st, nil
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) (*sql.Row, error) {
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryRowContext(ctx, args...), nil
}

func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.readStmt(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// Times are stored as Unix milliseconds.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// pageLimit applies store.Page's defaults.
func pageLimit(p store.Page) int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 1000:
		return 1000
	}
	return p.Limit
}
