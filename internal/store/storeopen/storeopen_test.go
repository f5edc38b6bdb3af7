package storeopen

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

func cipher(t *testing.T) store.Cipher {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{3}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return box
}

// wantStatus checks that ms lists exactly the known versions, each applied
// or not as applied says.
func wantStatus(t *testing.T, what string, ms []Migration, known []int64, applied bool) {
	t.Helper()
	if len(ms) != len(known) {
		t.Fatalf("%s: %d migrations, want %d: %+v", what, len(ms), len(known), ms)
	}
	for i, m := range ms {
		if m.Version != known[i] || !m.Known || m.Applied != applied || m.AppliedAt.IsZero() == applied {
			t.Fatalf("%s: migration %d = %+v, want version %d applied %v", what, i, m, known[i], applied)
		}
	}
}

func TestSQLite(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	cfg := Config{DataDir: dir, Cipher: cipher(t)}
	known, err := sqlite.MigrationVersions()
	if err != nil {
		t.Fatal(err)
	}

	if _, err := MigrationStatus(ctx, cfg); !errors.Is(err, ErrNoDatabase) {
		t.Fatalf("status of an empty directory: %v, want ErrNoDatabase", err)
	}
	// A database file goose never touched: every migration pending, and
	// status leaves it as it was (no version table created).
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE TABLE unrelated (x)`); err != nil {
		t.Fatal(err)
	}
	ms, err := MigrationStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "unmigrated", ms, known, false)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'goose_db_version'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("status created the version table: %d, %v", n, err)
	}

	st, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Shared() || st.Locker() != nil || !st.SetDispatcher(nil, 0) {
		t.Errorf("SQLite capabilities: Shared %v, Locker %v", st.Shared(), st.Locker())
	}
	// Status only reads: it works while the store is open.
	ms, err = MigrationStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "open", ms, known, true)
	if err := Migrate(ctx, cfg); !errors.Is(err, sqlite.ErrLocked) {
		t.Errorf("Migrate while open: %v, want ErrLocked", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}

	// A migration a newer hookrelay applied is listed, not known.
	next := known[len(known)-1] + 1
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, next); err != nil {
		t.Fatal(err)
	}
	if ms, err = MigrationStatus(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if last := ms[len(ms)-1]; len(ms) != len(known)+1 || last.Version != next || last.Known || !last.Applied || last.AppliedAt.IsZero() {
		t.Fatalf("status with a newer migration: %+v", ms)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Config{{}, {DatabaseURL: "mysql://x"}, {DatabaseURL: "host=x", DataDir: "d"}} {
		if _, err := Open(t.Context(), cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", cfg)
		}
		if _, err := MigrationStatus(t.Context(), cfg); err == nil {
			t.Errorf("MigrationStatus(%+v) succeeded", cfg)
		}
	}
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv("HOOKRELAY_TEST_POSTGRES_URL")
	if dsn == "" {
		t.Skip("HOOKRELAY_TEST_POSTGRES_URL is not set")
	}
	ctx := t.Context()
	// A schema of its own, empty.
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	schema := "storeopen_" + store.NewID("t")[2:]
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Exec(context.WithoutCancel(ctx), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	cfg := Config{DatabaseURL: u.String(), Cipher: cipher(t)}
	known, err := postgres.MigrationVersions()
	if err != nil {
		t.Fatal(err)
	}

	ms, err := MigrationStatus(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "unmigrated", ms, known, false)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, schema+".goose_db_version").Scan(&exists); err != nil || exists {
		t.Fatalf("status created the version table: %v, %v", exists, err)
	}
	if err := Migrate(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if ms, err = MigrationStatus(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "migrated", ms, known, true)
	st, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !st.Shared() || st.Locker() == nil || st.SetDispatcher(nil, 0) {
		t.Errorf("PostgreSQL capabilities: Shared %v, Locker %v", st.Shared(), st.Locker())
	}
}
