// Package storeopen opens the store a configuration names, SQLite or
// PostgreSQL, and migrates it or reports its migrations, so that callers
// (cmd/hookrelay's commands) never name a backend: what differs between
// the two they ask the store.Store itself (Shared, Locker, SetDispatcher).
//
// A DatabaseURL that starts with postgres:// or postgresql:// names a
// PostgreSQL database; an empty one means the SQLite database
// hookrelay.db in DataDir. Migration status is read with goose's
// Provider API on both, without applying anything and without creating
// goose's version table.
package storeopen

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// FileName is the SQLite database's file name in Config.DataDir.
const FileName = "hookrelay.db"

// ErrNoDatabase is returned (wrapped) by MigrationStatus when DataDir has
// no SQLite database.
var ErrNoDatabase = errors.New("no hookrelay database")

// Config says which store to open and how. The zero value of each option
// is its store's default.
type Config struct {
	// DatabaseURL is a postgres:// or postgresql:// URL of a PostgreSQL
	// database that several nodes may share (see postgres.Open for its
	// parameters); "" means SQLite in DataDir.
	DatabaseURL string
	// DataDir holds the SQLite database, FileName, created with the
	// directory if missing. Required when DatabaseURL is "".
	DataDir string
	// Cipher seals secrets at rest; required by Open.
	Cipher store.Cipher
	// Logger receives the store's logs; nil discards them.
	Logger *slog.Logger
	// NodeID names this node in the leases it takes (postgres.Config
	// and sqlite.Config NodeID): on PostgreSQL a node that starts again
	// with the same id takes back its own leases at once.
	NodeID string

	// Synchronous is sqlite.Config.Synchronous ("full" or "normal").
	Synchronous string
	// BusyTimeout is sqlite.Config.BusyTimeout.
	BusyTimeout time.Duration
	// MaxConns is postgres.Config.MaxConns.
	MaxConns int32
	// SearchFields are the payload paths the store indexes (sqlite and
	// postgres Config.SearchFields).
	SearchFields []string
}

// IsPostgresURL reports whether dsn names a PostgreSQL database.
func IsPostgresURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// check validates cfg's choice of database.
func (cfg *Config) check() error {
	switch {
	case cfg.DatabaseURL != "" && !IsPostgresURL(cfg.DatabaseURL):
		// The URL is not echoed: it may hold a password.
		return errors.New("storeopen: DatabaseURL: want a postgres:// or postgresql:// URL")
	case cfg.DatabaseURL == "" && cfg.DataDir == "":
		return errors.New("storeopen: DataDir is required for SQLite")
	}
	return nil
}

// path is the SQLite database's path.
func (cfg *Config) path() string { return filepath.Join(cfg.DataDir, FileName) }

// Open opens the store cfg names, creating the SQLite database (and
// DataDir) if needed, and applies any pending migration. The SQLite store
// fails with sqlite.ErrLocked (wrapped) if another process has it open.
func Open(ctx context.Context, cfg Config) (store.Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		st, err := postgres.Open(ctx, cfg.DatabaseURL, &postgres.Config{Cipher: cfg.Cipher, Logger: cfg.Logger, MaxConns: cfg.MaxConns, NodeID: cfg.NodeID, SearchFields: cfg.SearchFields})
		if err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
		return st, nil
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st, err := sqlite.Open(ctx, cfg.path(), &sqlite.Config{Cipher: cfg.Cipher, Logger: cfg.Logger,
		Synchronous: cfg.Synchronous, BusyTimeout: cfg.BusyTimeout, NodeID: cfg.NodeID, SearchFields: cfg.SearchFields})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return st, nil
}

// Migrate applies every pending migration to the database cfg names, with
// goose's Provider.Up, and returns; Open does the same. PostgreSQL
// migrators take turns; SQLite fails with sqlite.ErrLocked (wrapped) while
// a store has the database open. Cipher is not needed.
func Migrate(ctx context.Context, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	if cfg.DatabaseURL != "" {
		return postgres.Migrate(ctx, cfg.DatabaseURL)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	return sqlite.Migrate(ctx, cfg.path())
}

// Migration is one schema migration as MigrationStatus reports it.
type Migration struct {
	Version int64
	// Applied reports whether the database has applied it, and AppliedAt
	// when (as the database recorded it).
	Applied   bool
	AppliedAt time.Time
	// Known reports whether this hookrelay has the migration. One applied
	// but not known was applied by a newer hookrelay.
	Known bool
}

// MigrationStatus lists the migrations of the database cfg names, oldest
// first: every one this hookrelay knows, applied or pending, and those a
// newer hookrelay applied. It changes nothing: SQLite is opened read only
// (a running service does not hinder it), and a database goose never
// migrated (no version table) has every migration pending. ErrNoDatabase
// if DataDir has no SQLite database. Cipher is not needed.
func MigrationStatus(ctx context.Context, cfg Config) ([]Migration, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	db, dialect, migrations, err := openForStatus(cfg)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	out, err := status(ctx, db, dialect, migrations)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	return out, nil
}

// openForStatus opens a database handle that only reads, with the goose
// dialect and the migrations of its store.
func openForStatus(cfg Config) (*sql.DB, database.Dialect, fs.FS, error) {
	if cfg.DatabaseURL != "" {
		c, err := pgxConfig(cfg.DatabaseURL)
		if err != nil {
			return nil, "", nil, err
		}
		return stdlib.OpenDB(*c), database.DialectPostgres, postgres.Migrations(), nil
	}
	path := cfg.path()
	if _, err := os.Stat(path); err != nil {
		return nil, "", nil, fmt.Errorf("%w in %s: %w", ErrNoDatabase, cfg.DataDir, err)
	}
	// The sqlite package registers modernc.org/sqlite as "sqlite".
	u := url.URL{Scheme: "file", Opaque: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, "", nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, database.DialectSQLite3, sqlite.Migrations(), nil
}

// versionTable is goose's default version table, which both stores use.
const versionTable = "goose_db_version"

// status reads the migrations of db through goose: its Store says whether
// the version table exists and which versions it records, and a Provider
// on the store's migrations says which of those are applied and when.
func status(ctx context.Context, db *sql.DB, dialect database.Dialect, migrations fs.FS) ([]Migration, error) {
	gs, err := database.NewStore(dialect, versionTable)
	if err != nil {
		return nil, err
	}
	if dialect == database.DialectSQLite3 {
		gs = sqliteVersions{gs}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	exists := false
	if ext, ok := gs.(database.StoreExtender); ok {
		exists, err = ext.TableExists(ctx, conn)
	} else {
		err = errors.ErrUnsupported
	}
	if err != nil {
		return nil, fmt.Errorf("find the version table: %w", err)
	}
	p, err := goose.NewProvider("", db, migrations, goose.WithStore(gs), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, err
	}
	var out []Migration
	if !exists {
		// Provider.Status would create the table; nothing is applied.
		for _, src := range p.ListSources() {
			out = append(out, Migration{Version: src.Version, Known: true})
		}
		return out, nil
	}
	conn.Close() // the Provider takes a connection of its own
	st, err := p.Status(ctx)
	if err != nil {
		return nil, err
	}
	known := map[int64]bool{}
	for _, m := range st {
		known[m.Source.Version] = true
		out = append(out, Migration{Version: m.Source.Version, Known: true,
			Applied: m.State == goose.StateApplied, AppliedAt: m.AppliedAt})
	}
	// Versions the database applied that this hookrelay does not know.
	if conn, err = db.Conn(ctx); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	rows, err := gs.ListMigrations(ctx, conn)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.Version == 0 || known[r.Version] {
			continue
		}
		known[r.Version] = true // listed newest first, the latest row decides
		if !r.IsApplied {
			continue
		}
		m, err := gs.GetMigration(ctx, conn, r.Version)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: r.Version, Applied: true, AppliedAt: m.Timestamp})
	}
	slices.SortFunc(out, func(a, b Migration) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// sqliteVersions adds to goose's SQLite store the TableExists that goose's
// StoreExtender allows and its SQLite dialect lacks, from SQLite's own
// catalog, so that status can tell a database goose never migrated without
// reading an error's text.
type sqliteVersions struct{ database.Store }

// TableExists reports whether the version table exists.
func (v sqliteVersions) TableExists(ctx context.Context, db database.DBTxConn) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, v.Tablename()).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("read the schema: %w", err)
	}
	return n > 0, nil
}

// pgxConfig parses a PostgreSQL URL for a connection of database/sql.
func pgxConfig(dsn string) (*pgx.ConnConfig, error) {
	c, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	return c, nil
}
