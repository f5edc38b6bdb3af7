package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

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

// Config configures a Store. Cipher is required; every other field has a
// working zero value.
type Config struct {
	// Cipher seals endpoint secrets at rest (internal/secretbox.Box
	// implements it). Every node sharing a database needs the same key.
	// Required.
	Cipher store.Cipher
	// Logger receives the store's logs. nil discards them.
	Logger *slog.Logger
	// MaxConns bounds the connection pool. 0 means the DSN's
	// pool_max_conns if it has one, else pgxpool's default of
	// max(4, runtime.NumCPU()).
	MaxConns int32
	// NodeID names this node in the leases its claims take, so that when
	// it starts again it takes back its own at once (ReleaseLeases)
	// instead of waiting for them to run out. It must be stable across
	// restarts and unique among the nodes sharing the database: Open
	// holds an advisory lock on it for the Store's life and fails with
	// ErrNodeInUse while another live Store holds the same id. "" makes
	// anonymous leases, which only run out.
	NodeID string
}

// ErrNodeInUse is returned (wrapped) by Open when another live Store of
// the database has the same Config.NodeID.
var ErrNodeInUse = errors.New("postgres: node id is in use by another live node")

// Store is a store.Store on a PostgreSQL database that any number of
// hookrelay nodes may share. It is safe for concurrent use. Create it with
// Open and release it with Close.
type Store struct {
	pool   *pgxpool.Pool
	cipher store.Cipher
	log    *slog.Logger
	ids    idGen
	health *store.WriteHealth // failures of statements, for Health
	node   *string            // Config.NodeID, nil when ""
	unlock func()             // releases the node id's advisory lock; nil without one

	filters store.FilterCache // compiled payload filters, for fan-out
}

var _ store.Store = (*Store)(nil)

// SetDispatcher does nothing and reports false: several nodes claim from
// one PostgreSQL database, and the per-endpoint limits hold across them
// only in the claims (store.ClaimParams), which a claim at creation would
// bypass.
func (s *Store) SetDispatcher(store.Dispatcher, time.Duration) bool { return false }

// Shared reports true: several processes may claim from the database at
// once.
func (s *Store) Shared() bool { return true }

// Locker returns the store itself: TryAdvisoryLock elects a leader among
// the processes sharing the database.
func (s *Store) Locker() store.AdvisoryLocker { return s }

// Open connects to the database dsn names (a postgres:// URL or a
// key=value string, as pgx accepts, including pgxpool's pool_* settings),
// applies any pending migrations and returns the Store. Unknown URL
// parameters are sent as run-time settings, so
// "postgres://…/hookrelay?search_path=tenant_a" keeps the tables in schema
// tenant_a (which must exist).
func Open(ctx context.Context, dsn string, cfg *Config) (*Store, error) {
	if cfg == nil || cfg.Cipher == nil {
		return nil, errors.New("postgres: Config.Cipher is required")
	}
	if cfg.MaxConns < 0 {
		return nil, fmt.Errorf("postgres: Config.MaxConns is %d, want 0 or more", cfg.MaxConns)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if cfg.MaxConns > 0 {
		pcfg.MaxConns = cfg.MaxConns
	}
	health := &store.WriteHealth{}
	if pcfg.ConnConfig.Tracer == nil {
		pcfg.ConnConfig.Tracer = healthTracer{health}
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	s := &Store{pool: pool, cipher: cfg.Cipher, log: log, health: health}
	if cfg.NodeID != "" {
		s.node = &cfg.NodeID
	}
	if err := s.open(ctx); err != nil {
		if s.unlock != nil {
			s.unlock()
		}
		pool.Close()
		return nil, fmt.Errorf("postgres: open %s: %w", where(pcfg), err)
	}
	log.InfoContext(ctx, "postgres store open", "database", where(pcfg), "max_conns", pcfg.MaxConns)
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if err := migrate(ctx, s.pool, s.log); err != nil {
		return err
	}
	if s.node != nil {
		if err := s.lockNode(ctx); err != nil {
			return err
		}
	}
	// Continue the id sequence after the newest delivery, in case this
	// node's clock is behind the one that wrote it.
	var newest *string
	if err := s.pool.QueryRow(ctx, `SELECT max(id) FROM deliveries`).Scan(&newest); err != nil {
		return fmt.Errorf("seed ids: %w", err)
	}
	if newest != nil {
		s.ids.observe(*newest)
	}
	return nil
}

// where names the database of a pool for messages, without credentials.
func where(c *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", c.ConnConfig.Host, c.ConnConfig.Port, c.ConnConfig.Database)
}

// Migrate applies every pending migration to the database dsn names and
// returns. Open does the same; Migrate is for running it on its own, for
// instance before a deploy. Nodes that migrate at once take turns (see the
// package doc).
func Migrate(ctx context.Context, dsn string) error {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	pcfg.MinConns, pcfg.MaxConns = 0, 2
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer pool.Close()
	if err := migrate(ctx, pool, slog.New(slog.DiscardHandler)); err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", where(pcfg), err)
	}
	return nil
}

// MigrationVersions returns the versions of the schema migrations this
// package applies, oldest first: the goose numbering of its migrations
// directory, which the SQLite store shares. `hookrelay migrate --status`
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

func migrate(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithDisableGlobalRegistry(true), goose.WithSessionLocker(schemaLocker{}))
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

// Advisory lock namespaces: the first key of PostgreSQL's two-int4 advisory
// locks. The two-int4 space is separate from the bigint one, which is left
// whole to TryAdvisoryLock's callers. Transactions take tenant locks before
// endpoint locks (nsTenant < nsEndpoint, and lockAll sorts), which is what
// keeps them from deadlocking.
const (
	nsMigrate  int32 = 0x68720001 // "hr", 1: per schema, held while migrating
	nsTenant   int32 = 0x68720002 // per tenant: its fan-out set
	nsEndpoint int32 = 0x68720003 // per endpoint: its hold flags and endpoint row
	// nsClaim, per endpoint (keyed by hashtext of its id, computed in the
	// claim's SQL): held by a claim that counts the endpoint's leases or
	// spends its tokens. Only ever tried (pg_try_advisory_xact_lock), never
	// waited for, so it takes no part in the order above.
	nsClaim int32 = 0x68720004
)

// schemaLocker is goose's session lock: one migrator at a time per schema,
// waiting (not polling) for its turn.
type schemaLocker struct{}

func (schemaLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))`, nsMigrate)
	if err != nil {
		return fmt.Errorf("lock schema: %w", err)
	}
	return nil
}

func (schemaLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1, hashtext(coalesce(current_schema(), '')))`, nsMigrate)
	if err != nil {
		return fmt.Errorf("unlock schema: %w", err)
	}
	return nil
}

// xlock is one transaction-level advisory lock.
type xlock struct {
	ns, key int32
	shared  bool
}

func lockKey(s string) int32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return int32(h.Sum32())
}

func tenantLock(tenant string, shared bool) xlock {
	return xlock{ns: nsTenant, key: lockKey(tenant), shared: shared}
}

func endpointLock(id string) xlock { return xlock{ns: nsEndpoint, key: lockKey(id)} }

// lockArgs sorts and deduplicates locks into the arguments of lockQuery:
// one global order every transaction follows, by namespace, then by key.
// Two ids that hash alike share a lock, which costs only some concurrency.
func lockArgs(locks []xlock) (ns, keys []int32, shared []bool) {
	locks = slices.Clone(locks)
	slices.SortFunc(locks, func(a, b xlock) int {
		if c := cmp.Compare(a.ns, b.ns); c != 0 {
			return c
		}
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		// Exclusive first, so that Compact keeps it.
		switch {
		case a.shared == b.shared:
			return 0
		case b.shared:
			return -1
		}
		return 1
	})
	locks = slices.CompactFunc(locks, func(a, b xlock) bool { return a.ns == b.ns && a.key == b.key })
	ns = make([]int32, len(locks))
	keys = make([]int32, len(locks))
	shared = make([]bool, len(locks))
	for i, l := range locks {
		ns[i], keys[i], shared[i] = l.ns, l.key, l.shared
	}
	return ns, keys, shared
}

// lockQuery returns the statement that takes the locks of lockArgs, held
// until the transaction ends. unnest yields the rows in array order and
// each lock is taken as its row is produced, so the order of the arrays is
// the order of acquisition.
func lockQuery(ns, keys []int32, shared []bool) (string, any, any, any) {
	return `SELECT CASE WHEN s THEN pg_advisory_xact_lock_shared(n, k) ELSE pg_advisory_xact_lock(n, k) END
		FROM unnest($1::int4[], $2::int4[], $3::bool[]) AS l(n, k, s)`, ns, keys, shared
}

// lockAll takes the advisory locks in the global order. A transaction that
// takes locks more than once must keep to the order across calls too.
func lockAll(ctx context.Context, tx pgx.Tx, locks []xlock) error {
	if len(locks) == 0 {
		return nil
	}
	q, ns, keys, shared := lockQuery(lockArgs(locks))
	if _, err := tx.Exec(ctx, q, ns, keys, shared); err != nil {
		return fmt.Errorf("advisory locks: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction and commits it if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// pipeTx is a transaction on one connection whose statements go in
// pipelined batches, one round trip each: BEGIN travels with the first
// batch and COMMIT with the last, so that a transaction of n dependent
// steps costs n round trips instead of n+2 (and, with one statement per
// step as pgx.Tx runs them, more). end rolls back whatever was not
// committed.
type pipeTx struct {
	conn           *pgx.Conn
	log            *slog.Logger
	begun, settled bool
}

// batch sends the statements queue queues, preceded by BEGIN in the first
// batch and followed by COMMIT if commit is set, and calls read to read
// their results, in order. An error from read stops the reading; the
// transaction then stays open for end to roll back.
func (p *pipeTx) batch(ctx context.Context, commit bool, queue func(b *pgx.Batch), read func(br pgx.BatchResults) error) error {
	b := &pgx.Batch{}
	begin := !p.begun
	if begin {
		b.Queue("BEGIN")
		p.begun = true
	}
	queue(b)
	if commit {
		b.Queue("COMMIT")
	}
	br := p.conn.SendBatch(ctx, b)
	err := func() error {
		if begin {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("begin: %w", err)
			}
		}
		if err := read(br); err != nil {
			return err
		}
		if commit {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("commit: %w", err)
			}
			if tag.String() != "COMMIT" {
				return fmt.Errorf("commit: %w", pgx.ErrTxCommitRollback)
			}
			p.settled = true
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = interpretError(cerr)
	}
	return err
}

// end rolls the transaction back unless it was committed. If that fails,
// it closes the connection, which the pool then drops, and the server
// rolls back.
func (p *pipeTx) end() {
	if !p.begun || p.settled {
		return
	}
	p.settled = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.conn.Exec(ctx, "ROLLBACK"); err != nil {
		p.log.Warn("postgres: rollback", "err", err)
		p.conn.Close(ctx)
	}
}

// TryAdvisoryLock tries to take the session-level advisory lock key (in
// PostgreSQL's bigint advisory lock space, which the store itself does not
// use) without waiting, for electing the one node that runs a periodic job.
// ok reports whether it was taken; when it was, the lock is held by a
// connection set aside for it, outside the pool, until release is called
// (release may be called more than once). The lock is also released if
// that connection is lost, without notice: a leader should check its
// leadership again before each run, for instance by releasing and trying
// again.
func (s *Store) TryAdvisoryLock(ctx context.Context, key int64) (release func(), ok bool, err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("try advisory lock %d: %w", key, err)
	}
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		c.Release()
		return nil, false, fmt.Errorf("try advisory lock %d: %w", key, err)
	}
	if !ok {
		c.Release()
		return nil, false, nil
	}
	// The connection leaves the pool (which opens another in its place when
	// it needs one): the lock lives as long as its session.
	conn := c.Hijack()
	var once sync.Once
	release = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			// Unlock explicitly: the end of the session would release the
			// lock too, but only once the server has noticed it.
			if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
				s.log.Warn("postgres: advisory unlock", "key", key, "err", err)
			}
			if err := conn.Close(ctx); err != nil {
				s.log.Warn("postgres: close advisory lock connection", "key", key, "err", err)
			}
		})
	}
	return release, true, nil
}

// nodeLockKey is the advisory lock key of node $1 in the current schema.
const nodeLockKey = `hashtextextended('hookrelay/node/' || current_schema() || '/' || $1, 0)`

// lockNode takes the advisory lock of the node id, held on a connection of
// its own until Close: two live Stores with one id would take back each
// other's live leases.
func (s *Store) lockNode(ctx context.Context) error {
	var key int64
	if err := s.pool.QueryRow(ctx, `SELECT `+nodeLockKey, *s.node).Scan(&key); err != nil {
		return fmt.Errorf("node lock key: %w", err)
	}
	release, ok, err := s.TryAdvisoryLock(ctx, key)
	if err != nil {
		return fmt.Errorf("lock node id: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: %q (give each node its own --node-id)", ErrNodeInUse, *s.node)
	}
	s.unlock = release
	return nil
}

// Close waits for the connections in use to be released, then closes the
// pool. Connections holding a TryAdvisoryLock are not the pool's and stay
// open until released.
func (s *Store) Close() error {
	if s.unlock != nil {
		s.unlock()
	}
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// SQLSTATE codes interpretError knows.
const uniqueViolation = "23505"

// interpretError translates driver errors to the store's sentinels:
// pgx.ErrNoRows to store.ErrNotFound and unique violations to
// store.ErrConflict. Other errors are returned as they are.
func interpretError(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		return fmt.Errorf("%w: %v", store.ErrConflict, err)
	}
	return unavailable(err)
}

// Times are stored as Unix milliseconds.

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

func fromNullMS(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}

func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// cleanText makes a string the store composes from what a network or a
// remote server said (attempt errors) acceptable to a TEXT column, which
// rejects NUL and invalid UTF-8.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
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
