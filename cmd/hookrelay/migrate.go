package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// databaseFlags are the --database and --data flags of the commands that
// work on a store directly, with serve's environment variables.
type databaseFlags struct {
	database
	ef envFlags
}

// addDatabaseFlags adds --database and --data to fs; call apply after
// parsing.
func addDatabaseFlags(fs *flag.FlagSet) *databaseFlags {
	d := &databaseFlags{ef: envFlags{fs: fs}}
	fs.StringVar(&d.URL, "database", "", "PostgreSQL database URL (postgres://…); empty: SQLite in --data")
	fs.StringVar(&d.DataDir, "data", defaultDataDir, "data directory: its SQLite database, and its secret key file when HOOKRELAY_SECRET_KEY is unset")
	d.ef.bind("database", "HOOKRELAY_DATABASE_URL")
	d.ef.bind("data", "HOOKRELAY_DATA")
	return d
}

// apply fills unset flags from the environment and checks them.
func (d *databaseFlags) apply(getenv func(string) string) error {
	if err := d.ef.apply(getenv); err != nil {
		return err
	}
	if err := checkDatabaseURL(d.URL); err != nil {
		return usageError{err}
	}
	if d.URL == "" && d.DataDir == "" {
		return usagef("--data is empty")
	}
	return nil
}

// runMigrate applies pending schema migrations, or reports which are
// applied.
func runMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("migrate", e.stderr)
	db := addDatabaseFlags(fs)
	status := fs.Bool("status", false, "print the applied and pending migrations instead of applying any")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay migrate [--database URL | --data DIR] [--status]")
		fmt.Fprintln(fs.Output(), `
Applies every pending schema migration to the database and exits. serve does
the same on start; migrate is for doing it on its own, before a deploy. On
PostgreSQL, nodes and migrate commands running at once take turns. On
SQLite, the service must not be running. With --status, it lists every
migration this hookrelay knows, applied (and when) or pending, and changes
nothing.`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := db.apply(e.getenv); err != nil {
		return err
	}
	if *status {
		return printMigrationStatus(ctx, e.stdout, db.database)
	}
	if db.URL != "" {
		if err := postgres.Migrate(ctx, db.URL); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(db.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		err := sqlite.Migrate(ctx, filepath.Join(db.DataDir, dbFileName))
		if errors.Is(err, sqlite.ErrLocked) {
			return fmt.Errorf("the service is running on %s: stop it first (it applies migrations itself when it starts): %w", db.DataDir, err)
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stderr, "hookrelay: %s is up to date\n", db)
	return printMigrationStatus(ctx, e.stdout, db.database)
}

// migration is one row of goose's version table, as status shows it.
type migration struct {
	version   int64
	appliedAt string
}

// printMigrationStatus lists the migrations of db: those applied, read
// from the version table goose keeps (goose_db_version), with SQLite
// opened read only, and those this hookrelay would apply, pending. A
// version the database has applied but this hookrelay does not know was
// applied by a newer one.
func printMigrationStatus(ctx context.Context, w io.Writer, db database) error {
	var (
		applied []migration
		known   []int64
		err     error
	)
	if db.URL != "" {
		applied, err = postgresMigrations(ctx, db.URL)
		if err == nil {
			known, err = postgres.MigrationVersions()
		}
	} else {
		applied, err = sqliteMigrations(ctx, filepath.Join(db.DataDir, dbFileName))
		if err == nil {
			known, err = sqlite.MigrationVersions()
		}
	}
	if err != nil {
		return fmt.Errorf("migration status of %s: %w", db, err)
	}
	at := make(map[int64]string, len(applied))
	versions := slices.Clone(known)
	for _, m := range applied {
		at[m.version] = m.appliedAt
		versions = append(versions, m.version)
	}
	slices.Sort(versions)
	versions = slices.Compact(versions)
	var pending int
	for _, v := range known {
		if _, ok := at[v]; !ok {
			pending++
		}
	}

	fmt.Fprintf(w, "database  %s\n", db)
	if len(applied) == 0 {
		fmt.Fprintln(w, "version   none: no migration applied")
	} else {
		fmt.Fprintf(w, "version   %d\n", applied[len(applied)-1].version)
	}
	if pending == 0 {
		fmt.Fprintln(w, "pending   none")
	} else {
		fmt.Fprintf(w, "pending   %d (run hookrelay migrate, or serve, which applies them when it starts)\n", pending)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tSTATE\tAPPLIED")
	for _, v := range versions {
		when, ok := at[v]
		state := "applied"
		switch {
		case !ok:
			state, when = "pending", "-"
		case !slices.Contains(known, v):
			state = "applied by a newer hookrelay"
		}
		fmt.Fprintf(tw, "%05d\t%s\t%s\n", v, state, when)
	}
	return tw.Flush()
}

// versionQuery reads goose's version table: a version is applied when its
// latest row says so. Version 0 is goose's own starting row.
const versionQuery = `SELECT version_id, is_applied, CAST(tstamp AS TEXT) FROM goose_db_version ORDER BY id`

// appliedMigrations folds the rows of versionQuery into the applied
// versions, oldest first.
func appliedMigrations(next func() (bool, error), scan func(v *int64, applied *bool, at *string) error) ([]migration, error) {
	state := map[int64]migration{}
	var order []int64
	for {
		ok, err := next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		var (
			v       int64
			applied bool
			at      string
		)
		if err := scan(&v, &applied, &at); err != nil {
			return nil, err
		}
		if v == 0 {
			continue
		}
		if _, seen := state[v]; !seen {
			order = append(order, v)
		}
		if applied {
			state[v] = migration{version: v, appliedAt: at}
		} else {
			state[v] = migration{}
		}
	}
	var out []migration
	for _, v := range order {
		if m := state[v]; m.version != 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

func sqliteMigrations(ctx context.Context, path string) ([]migration, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no hookrelay database: %w", err)
	}
	// The store package registers modernc.org/sqlite as "sqlite".
	u := url.URL{Scheme: "file", Opaque: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, versionQuery)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil, nil
		}
		return nil, err
	}
	defer rows.Close()
	ms, err := appliedMigrations(func() (bool, error) { return rows.Next(), nil },
		func(v *int64, applied *bool, at *string) error { return rows.Scan(v, applied, at) })
	if err != nil {
		return nil, err
	}
	return ms, rows.Err()
}

func postgresMigrations(ctx context.Context, dsn string) ([]migration, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, err
	}
	if !exists {
		return nil, nil
	}
	rows, err := conn.Query(ctx, versionQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ms, err := appliedMigrations(func() (bool, error) { return rows.Next(), nil },
		func(v *int64, applied *bool, at *string) error { return rows.Scan(v, applied, at) })
	if err != nil {
		return nil, err
	}
	return ms, rows.Err()
}
