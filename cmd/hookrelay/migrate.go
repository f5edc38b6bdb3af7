package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/internal/store/storeopen"
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
	err := storeopen.Migrate(ctx, db.config(nil))
	if errors.Is(err, sqlite.ErrLocked) {
		return fmt.Errorf("the service is running on %s: stop it first (it applies migrations itself when it starts): %w", db.DataDir, err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "hookrelay: %s is up to date\n", db)
	return printMigrationStatus(ctx, e.stdout, db.database)
}

// printMigrationStatus lists the migrations of db, as goose's provider
// reads them (see storeopen.MigrationStatus): those applied, those this
// hookrelay would apply, pending, and those a newer hookrelay applied.
func printMigrationStatus(ctx context.Context, w io.Writer, db database) error {
	ms, err := storeopen.MigrationStatus(ctx, db.config(nil))
	if err != nil {
		return fmt.Errorf("migration status of %s: %w", db, err)
	}
	var (
		pending int
		latest  *storeopen.Migration
	)
	for i, m := range ms {
		if !m.Applied {
			pending++
		} else if latest == nil || m.Version > latest.Version {
			latest = &ms[i]
		}
	}

	fmt.Fprintf(w, "database  %s\n", db)
	if latest == nil {
		fmt.Fprintln(w, "version   none: no migration applied")
	} else {
		fmt.Fprintf(w, "version   %d\n", latest.Version)
	}
	if pending == 0 {
		fmt.Fprintln(w, "pending   none")
	} else {
		fmt.Fprintf(w, "pending   %d (run hookrelay migrate, or serve, which applies them when it starts)\n", pending)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tSTATE\tAPPLIED")
	for _, m := range ms {
		state, when := "applied", m.AppliedAt.UTC().Format(time.DateTime)
		switch {
		case !m.Applied:
			state, when = "pending", "-"
		case !m.Known:
			state = "applied by a newer hookrelay"
		}
		fmt.Fprintf(tw, "%05d\t%s\t%s\n", m.Version, state, when)
	}
	return tw.Flush()
}
