package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// runExport writes every row of a store to stdout as JSON lines of
// store.Record, for hookrelay import.
func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("export", e.stderr)
	db := addDatabaseFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay export [--data DIR | --database URL] > dump.jsonl")
		fmt.Fprintln(fs.Output(), `
Writes every row of the database (API keys, endpoints, inbound sources,
events, idempotency keys, deliveries, attempts) to standard output, one JSON
record a line, from one consistent snapshot, for hookrelay import. Endpoint
and source secrets stay sealed with the installation's secret key
(HOOKRELAY_SECRET_KEY or DIR/secret.key): the dump alone does not reveal
them, and the importing side needs the same key. Rejected inbound requests,
kept a short while for inspection, are not exported. Payloads, attempts and API key hashes are in clear: keep the dump safe.
A SQLite database must not be in use: stop serve first. PostgreSQL can be
exported while nodes run.`)
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
	if db.URL == "" {
		if _, err := os.Stat(filepath.Join(db.DataDir, dbFileName)); err != nil {
			return fmt.Errorf("no hookrelay database in %s: %w", db.DataDir, err)
		}
	}
	// Secrets are exported sealed: the store needs a key to open, not
	// necessarily the right one, so a missing key file is not created.
	key, err := exportKey(e, db.DataDir)
	if err != nil {
		return err
	}
	st, err := db.open(ctx, key, slog.New(slog.DiscardHandler))
	if errors.Is(err, sqlite.ErrLocked) {
		return fmt.Errorf("the service is running on %s: stop it before exporting: %w", db.DataDir, err)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	w := bufio.NewWriterSize(e.stdout, 1<<16)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	counts := map[string]int{}
	err = st.Export(ctx, func(r store.Record) error {
		counts[r.Kind]++
		return enc.Encode(r)
	})
	if err != nil {
		return fmt.Errorf("export %s: %w", db, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	fmt.Fprintf(e.stderr, "hookrelay: exported %s from %s\n", describeCounts(counts), db)
	return nil
}

// exportKey returns HOOKRELAY_SECRET_KEY, or the key file of dataDir, or,
// when neither exists, a throwaway key.
func exportKey(e *env, dataDir string) ([]byte, error) {
	if s := e.getenv("HOOKRELAY_SECRET_KEY"); s != "" {
		k, err := secretbox.ParseKey(s)
		if err != nil {
			return nil, usagef("HOOKRELAY_SECRET_KEY: %v", err)
		}
		return k, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, secretKeyFile)); err == nil {
		return nil, nil // the key file
	}
	k := make([]byte, secretbox.KeySize)
	rand.Read(k)
	return k, nil
}

// runImport reads what hookrelay export wrote from stdin into an empty
// store.
func runImport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("import", e.stderr)
	db := addDatabaseFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay import --database URL [--data DIR] < dump.jsonl")
		fmt.Fprintln(fs.Output(), `
Reads the records hookrelay export wrote into an empty database, keeping
every id, so that API keys, endpoints, inbound sources, secrets, deliveries
and their history carry over; pending deliveries are attempted once serve runs on the new
database. Run it before the first serve on that database (serve creates an
admin key, and import refuses a database that is not empty).

The endpoint and source secrets in the dump are sealed with the exporting
installation's key, so import needs that key: HOOKRELAY_SECRET_KEY, or the
secret.key file in --data DIR (copy the old data directory's). Every serve
node of the new installation needs it too. Moving from SQLite to PostgreSQL:

    hookrelay export --data ./hookrelay-data > dump.jsonl
    hookrelay import --database postgres://... --data ./hookrelay-data < dump.jsonl`)
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
	var key []byte
	if s := e.getenv("HOOKRELAY_SECRET_KEY"); s != "" {
		k, err := secretbox.ParseKey(s)
		if err != nil {
			return usagef("HOOKRELAY_SECRET_KEY: %v", err)
		}
		key = k
	} else if _, err := os.Stat(filepath.Join(db.DataDir, secretKeyFile)); err != nil {
		return usagef("import needs the secret key the dump's endpoint secrets are sealed with: set HOOKRELAY_SECRET_KEY, or --data to a directory holding its %s", secretKeyFile)
	}
	if v := e.getenv("HOOKRELAY_SEARCH_FIELDS"); v != "" {
		// Index the imported events' payloads as serve will search them.
		var f searchFields
		if err := f.Set(v); err != nil {
			return usagef("HOOKRELAY_SEARCH_FIELDS: %v", err)
		}
		db.SearchFields = f
	}
	st, err := db.open(ctx, key, slog.New(slog.DiscardHandler))
	if errors.Is(err, sqlite.ErrLocked) {
		return fmt.Errorf("the service is running on %s: stop it before importing: %w", db.DataDir, err)
	}
	if err != nil {
		return err
	}
	defer st.Close()

	counts := map[string]int{}
	err = st.Import(ctx, readRecords(e.stdin, counts))
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("import into %s: the database is not empty (import must come before the first serve on it): %w", db, err)
	}
	if err != nil {
		return fmt.Errorf("import into %s (if the secrets do not open, HOOKRELAY_SECRET_KEY or --data is not the exporting installation's key): %w", db, err)
	}
	fmt.Fprintf(e.stderr, "hookrelay: imported %s into %s\n", describeCounts(counts), db)
	return nil
}

// readRecords yields the JSON records of r, one after another, counting
// them by kind in counts.
func readRecords(r io.Reader, counts map[string]int) iter.Seq2[store.Record, error] {
	return func(yield func(store.Record, error) bool) {
		dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
		for n := 1; ; n++ {
			var rec store.Record
			err := dec.Decode(&rec)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(store.Record{}, fmt.Errorf("read record %d: %w", n, err))
				return
			}
			counts[rec.Kind]++
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// describeCounts lists record counts in store.RecordKinds order.
func describeCounts(counts map[string]int) string {
	var parts []string
	for _, k := range store.RecordKinds {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	return strings.Join(parts, ", ")
}
