package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/hookrelay/hookrelay/internal/store/postgres"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

func TestMigrateSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e, out, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"migrate", "--status", "--data", dir}); code != 1 || !strings.Contains(errb.String(), "no hookrelay database") {
		t.Errorf("status of an empty directory: exit %d: %s%s", code, out, errb)
	}
	e, out, errb = testEnv(map[string]string{"HOOKRELAY_DATA": dir}, "")
	if code := run(context.Background(), e, []string{"migrate"}); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errb)
	}
	if !strings.Contains(out.String(), "00001") || !strings.Contains(errb.String(), "up to date") {
		t.Errorf("migrate printed %q, %q", out, errb)
	}
	// Applying again changes nothing; status lists the same.
	e, out2, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"migrate", "--data", dir}); code != 0 || out2.String() != out.String() {
		t.Errorf("second migrate: exit %d: %q, want %q; %s", code, out2, out, errb)
	}
	e, out2, _ = testEnv(nil, "")
	if code := run(context.Background(), e, []string{"migrate", "--status", "--data", dir}); code != 0 || out2.String() != out.String() {
		t.Errorf("status: exit %d: %q, want %q", code, out2, out)
	}
}

// TestMigrateStatusPending: --status lists the migrations this hookrelay
// would apply as pending, next to those applied, and those a newer
// hookrelay applied as unknown.
func TestMigrateStatusPending(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	known, err := sqlite.MigrationVersions()
	if err != nil || len(known) < 2 {
		t.Fatalf("MigrationVersions = %v, %v", known, err)
	}
	last := known[len(known)-1]
	// A database an older hookrelay made: every migration but the last.
	dir := t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, dbFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, os.DirFS("../../internal/store/sqlite/migrations"),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, known[len(known)-2]); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		t.Helper()
		e, out, errb := testEnv(nil, "")
		if code := run(ctx, e, []string{"migrate", "--status", "--data", dir}); code != 0 {
			t.Fatalf("migrate --status: exit %d: %s", code, errb)
		}
		return out.String()
	}
	pendingRow := regexp.MustCompile(fmt.Sprintf(`(?m)^%05d +pending +-$`, last))
	if out := status(); !strings.Contains(out, "pending   1 (run hookrelay migrate") || !pendingRow.MatchString(out) ||
		!regexp.MustCompile(`(?m)^00001 +applied +\d{4}-`).MatchString(out) {
		t.Errorf("status of a database one migration behind:\n%s", out)
	}
	e, _, errb := testEnv(nil, "")
	if code := run(ctx, e, []string{"migrate", "--data", dir}); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errb)
	}
	if out := status(); !strings.Contains(out, "pending   none") || strings.Contains(out, " pending ") ||
		!strings.Contains(out, fmt.Sprintf("version   %d", last)) {
		t.Errorf("status once migrated:\n%s", out)
	}
	// A newer hookrelay applied one more.
	if _, err := db.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, last+1); err != nil {
		t.Fatal(err)
	}
	if out := status(); !regexp.MustCompile(fmt.Sprintf(`(?m)^%05d +applied by a newer hookrelay +\d{4}-`, last+1)).MatchString(out) {
		t.Errorf("status with a migration from a newer hookrelay:\n%s", out)
	}
}

func TestMigrateSQLiteInUse(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	e, _, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"migrate", "--data", svc.dir}); code != 1 || !strings.Contains(errb.String(), "service is running") {
		t.Errorf("migrate while serving: exit %d: %s", code, errb)
	}
	// Status only reads.
	e, out, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"migrate", "--status", "--data", svc.dir}); code != 0 || !strings.Contains(out.String(), "00001") {
		t.Errorf("status while serving: exit %d: %s%s", code, out, errb)
	}
}

func TestMigratePostgres(t *testing.T) {
	t.Parallel()
	postgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := freshDatabase(t, ctx, "hookrelay_migrate")
	e, out, errb := testEnv(nil, "")
	if code := run(ctx, e, []string{"migrate", "--status", "--database", db}); code != 0 || !strings.Contains(out.String(), "none") {
		t.Errorf("status before: exit %d: %s%s", code, out, errb)
	}
	known, err := postgres.MigrationVersions()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), " pending "); n != len(known) || !strings.Contains(out.String(), fmt.Sprintf("pending   %d", n)) {
		t.Errorf("status before lists %d pending migrations, want %d:\n%s", n, len(known), out)
	}
	e, out, errb = testEnv(map[string]string{"HOOKRELAY_DATABASE_URL": db}, "")
	if code := run(ctx, e, []string{"migrate"}); code != 0 || !strings.Contains(out.String(), "00001") ||
		!strings.Contains(out.String(), "pending   none") {
		t.Errorf("migrate: exit %d: %s%s", code, out, errb)
	}
}

func TestDatabaseURLs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:hunter2@db.example:5432/hr?sslmode=require", "postgres://u:xxxxx@db.example:5432/hr?sslmode=require"},
		{"postgresql://db.example/hr?password=hunter2&sslmode=disable", "postgresql://db.example/hr?password=xxxxx&sslmode=disable"},
		{"postgres://u@db.example/hr", "postgres://u@db.example/hr"},
	} {
		if got := redactURL(tc.in); got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if err := checkDatabaseURL(tc.in); err != nil {
			t.Errorf("checkDatabaseURL(%q): %v", tc.in, err)
		}
	}
	for _, bad := range []string{"mysql://u:hunter2@x/y", "host=x password=hunter2", "./hookrelay.db"} {
		err := checkDatabaseURL(bad)
		if err == nil {
			t.Errorf("checkDatabaseURL(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("checkDatabaseURL echoes the password: %v", err)
		}
	}
	// The leader key follows the schema.
	if leaderKey("postgres://x/y?search_path=a") == leaderKey("postgres://x/y?search_path=b") ||
		leaderKey("postgres://x/y") != leaderKey("postgres://z/y") {
		t.Error("leaderKey must depend on the schema only")
	}
}

func TestServeConfigScaleOut(t *testing.T) {
	t.Parallel()
	key := "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	e, _, _ := testEnv(map[string]string{
		"HOOKRELAY_DATABASE_URL": "postgres://u:pw@db/hr",
		"HOOKRELAY_RETENTION":    "72h",
		"HOOKRELAY_SESSION_KEY":  key,
	}, "")
	c, err := parseServeConfig(e, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://u:pw@db/hr" || c.Retention != 72*time.Hour || len(c.SessionKey) != 32 {
		t.Errorf("config from the environment: %q %v %d", c.DatabaseURL, c.Retention, len(c.SessionKey))
	}
	c, err = parseServeConfig(e, []string{"--database", "", "--retention", "0"})
	if err != nil || c.DatabaseURL != "" || c.Retention != 0 {
		t.Errorf("flags over the environment: %v %+v", err, c)
	}
	if c, err := parseServeConfig(&env{getenv: func(string) string { return "" }, stderr: &syncBuffer{}}, nil); err != nil || c.Retention != defaultRetention {
		t.Errorf("default retention: %v, %v", err, c)
	}
	for _, args := range [][]string{{"--database", "mysql://x"}, {"--retention", "-1h"}, {"--retention", "1h"}, {"--endpoint-concurrency", "-1"}} {
		e, _, _ := testEnv(nil, "")
		if _, err := parseServeConfig(e, args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	e, _, _ = testEnv(map[string]string{"HOOKRELAY_SESSION_KEY": "short"}, "")
	if _, err := parseServeConfig(e, nil); err == nil {
		t.Error("a bad HOOKRELAY_SESSION_KEY accepted")
	}
}

// TestServeWrongSecretKey: a node whose secret key is not the one the
// endpoint secrets were sealed with refuses to start.
func TestServeWrongSecretKey(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	svc.mustCLI(t, "", "endpoints", "create", "--url", "http://127.0.0.1:9/hook")
	svc.cancel()
	code := <-svc.done
	svc.done <- code
	e, _, errb := testEnv(map[string]string{"HOOKRELAY_SECRET_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}, "")
	if code := run(context.Background(), e, []string{"serve", "--addr", "127.0.0.1:0", "--data", svc.dir}); code != 1 ||
		!strings.Contains(errb.String(), "HOOKRELAY_SECRET_KEY") {
		t.Errorf("serve with another secret key: exit %d: %s", code, errb)
	}
}
