package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/internal/store/storetest"
)

func newCipher(t testing.TB) *secretbox.Box {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}

func open(t testing.TB, path string, cipher store.Cipher) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, &sqlite.Config{Cipher: cipher, SearchFields: storetest.SearchFields})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestStore(t *testing.T) {
	t.Parallel()
	cipher := newCipher(t) // one key for all, as storetest.Run requires
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, filepath.Join(t.TempDir(), "hookrelay.db"), cipher)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	})
}

// TestStoreNodes runs the suite's tests of several nodes on the one Store
// a SQLite database allows: its writer serializes the claims they race.
func TestStoreNodes(t *testing.T) {
	t.Parallel()
	storetest.RunNodes(t, func(t *testing.T, n int) []store.Store {
		s := open(t, filepath.Join(t.TempDir(), "hookrelay.db"), newCipher(t))
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return slices.Repeat([]store.Store{s}, n)
	})
}

func TestSynchronousNormal(t *testing.T) {
	t.Parallel()
	cipher := newCipher(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "hookrelay.db"), &sqlite.Config{Cipher: cipher, Synchronous: "normal", SearchFields: storetest.SearchFields})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestOpenConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		cfg  *sqlite.Config
	}{
		{"nil config", filepath.Join(dir, "a.db"), nil},
		{"no cipher", filepath.Join(dir, "a.db"), &sqlite.Config{}},
		{"bad synchronous", filepath.Join(dir, "a.db"), &sqlite.Config{Cipher: newCipher(t), Synchronous: "off"}},
		{"empty path", "", &sqlite.Config{Cipher: newCipher(t)}},
		{"memory", ":memory:", &sqlite.Config{Cipher: newCipher(t)}},
	} {
		if s, err := sqlite.Open(t.Context(), tc.path, tc.cfg); err == nil {
			s.Close()
			t.Errorf("%s: Open succeeded", tc.name)
		}
	}
}

// TestSecretsSealed checks that no secret value reaches the database files
// in clear, WAL included.
func TestSecretsSealed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "hookrelay.db")
	s := open(t, path, newCipher(t))
	secret := "whsec_" + strings.Repeat("Zq7", 12)
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := &store.Endpoint{
		ID: store.NewID("ep"), URL: "https://example.com/x", Scheme: "standard",
		Secrets:   []store.Secret{{Value: secret, CreatedAt: now}, {Value: secret + "-old", CreatedAt: now, ExpiresAt: &now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := s.CreateEndpoint(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	e.Secrets[0].Value = secret + "-rotated"
	if _, err := s.UpdateEndpoint(t.Context(), e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Secrets: &e.Secrets}, nil
	}); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(path + "*")
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("Zq7Zq7Zq7")) {
				t.Fatalf("%s: secret in clear in %s", when, filepath.Base(f))
			}
		}
		if len(files) == 0 {
			t.Fatalf("no database files")
		}
	}
	check("open")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check("closed")
	// And the wrong key cannot read them.
	s = open(t, path, newCipher(t))
	defer s.Close()
	if _, err := s.GetEndpoint(t.Context(), e.ID); err == nil {
		t.Fatalf("GetEndpoint with another key succeeded")
	}
}

func TestReopen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookrelay.db")
	cipher := newCipher(t)
	s := open(t, path, cipher)
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := &store.Endpoint{ID: store.NewID("ep"), URL: "https://example.com/x", Scheme: "standard",
		Secrets: []store.Secret{{Value: "s1", CreatedAt: now}}, FIFO: true, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		_, ds, err := s.CreateEvent(t.Context(), &store.Event{Type: "a", Payload: []byte(`{"x": 1}`), CreatedAt: now}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ds[0].ID)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, _, err := s.CreateEvent(t.Context(), &store.Event{Type: "a"}, time.Time{}); !errors.Is(err, sqlite.ErrClosed) {
		t.Fatalf("CreateEvent after Close: %v, want ErrClosed", err)
	}
	if err := sqlite.Migrate(t.Context(), path); err != nil {
		t.Fatalf("Migrate on a migrated database: %v", err)
	}

	s = open(t, path, cipher)
	defer s.Close()
	got, err := s.GetEndpoint(t.Context(), e.ID)
	if err != nil || got.Secrets[0].Value != "s1" || !got.FIFO {
		t.Fatalf("endpoint after reopen: %+v, %v", got, err)
	}
	// New deliveries sort after the old ones, and FIFO goes on from the
	// oldest.
	_, ds, err := s.CreateEvent(t.Context(), &store.Event{Type: "a", Payload: []byte(`{}`), CreatedAt: now}, time.Time{})
	if err != nil || ds[0].ID <= ids[2] {
		t.Fatalf("delivery id after reopen %s, last before %s, %v", ds[0].ID, ids[2], err)
	}
	jobs, err := s.ClaimDueDeliveries(t.Context(), store.ClaimParams{Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 || jobs[0].Delivery.ID != ids[0] || string(jobs[0].Event.Payload) != `{"x": 1}` {
		t.Fatalf("claim after reopen: %v, %v", jobs, err)
	}
}

func TestLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookrelay.db")
	s := open(t, path, newCipher(t))
	_, err := sqlite.Open(t.Context(), path, &sqlite.Config{Cipher: newCipher(t)})
	if !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if err := sqlite.Migrate(t.Context(), path); !errors.Is(err, sqlite.ErrLocked) {
		t.Fatalf("Migrate while open: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, path, newCipher(t))
	s.Close()
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "fresh.db")
	if err := sqlite.Migrate(t.Context(), path); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s := open(t, path, newCipher(t))
	defer s.Close()
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestCloseFinishesWrites closes the store while writes are queued: each
// either returns success (and is then durable) or ErrClosed.
func TestCloseFinishesWrites(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "hookrelay.db")
	cipher := newCipher(t)
	s := open(t, path, cipher)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateEndpoint(t.Context(), &store.Endpoint{ID: store.NewID("ep"), URL: "u", Scheme: "standard", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		ok []string
	)
	for range 8 {
		wg.Go(func() {
			for {
				ev, _, err := s.CreateEvent(context.Background(), &store.Event{Type: "a", Payload: []byte("{}"), CreatedAt: now}, time.Time{})
				if errors.Is(err, sqlite.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("CreateEvent: %v", err)
					return
				}
				mu.Lock()
				ok = append(ok, ev.ID)
				mu.Unlock()
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s = open(t, path, cipher)
	defer s.Close()
	for _, id := range ok {
		if _, err := s.GetEvent(t.Context(), id); err != nil {
			t.Fatalf("event %s acknowledged before Close is gone: %v", id, err)
		}
	}
	if len(ok) == 0 {
		t.Fatalf("no write went through")
	}
}

const crashEnv = "HOOKRELAY_SQLITE_CRASH_DB"

// TestCrash runs a child process that writes events and completes attempts
// from several goroutines, printing each acknowledged write, and SIGKILLs
// itself mid-stream. Every acknowledged write must be in the database.
func TestCrash(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashChild(path)
		return
	}
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "hookrelay.db")
	keyPath := filepath.Join(dir, "key")
	key, err := secretbox.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$", "-test.v=false")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var events, attempts []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		kind, id, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "event":
			events = append(events, id)
		case "attempt":
			attempts = append(attempts, id)
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v\n%s", err, stderr.String())
	}
	if len(events) < 100 || len(attempts) == 0 {
		t.Fatalf("child acknowledged only %d events, %d attempts before dying\n%s", len(events), len(attempts), stderr.String())
	}

	box, _ := secretbox.New(key)
	s := open(t, path, box) // the dead child's lock is gone with it
	defer s.Close()
	for _, id := range events {
		if _, err := s.GetEvent(t.Context(), id); err != nil {
			t.Fatalf("acknowledged event %s lost: %v", id, err)
		}
		list, _, err := s.ListDeliveries(t.Context(), store.DeliveryFilter{EventID: id})
		if err != nil || len(list) != 1 {
			t.Fatalf("event %s has %d deliveries, %v", id, len(list), err)
		}
	}
	for _, id := range attempts {
		atts, err := s.ListAttempts(t.Context(), id)
		if err != nil || len(atts) != 1 {
			t.Fatalf("acknowledged attempt of %s lost: %d attempts, %v", id, len(atts), err)
		}
		if d, err := s.GetDelivery(t.Context(), id); err != nil || d.Status != store.StatusSucceeded {
			t.Fatalf("delivery %s: %+v, %v", id, d, err)
		}
	}
	t.Logf("%d events and %d attempts acknowledged before kill -9, all found", len(events), len(attempts))
}

func crashChild(path string) {
	key, err := secretbox.LoadOrCreateKeyFile(filepath.Join(filepath.Dir(path), "key"))
	if err != nil {
		panic(err)
	}
	box, _ := secretbox.New(key)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, &sqlite.Config{Cipher: box})
	if err != nil {
		panic(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateEndpoint(ctx, &store.Endpoint{ID: store.NewID("ep"), URL: "u", Scheme: "standard", CreatedAt: now, UpdatedAt: now}); err != nil {
		panic(err)
	}
	var (
		mu    sync.Mutex
		w     = bufio.NewWriter(os.Stdout)
		count int
	)
	emit := func(kind, id string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(w, kind, id)
		w.Flush()
		count++
		if count == 600 {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	for range 8 {
		go func() {
			for {
				ev, _, err := s.CreateEvent(ctx, &store.Event{Type: "a", Payload: []byte(`{"n":1}`), CreatedAt: now}, time.Time{})
				if err != nil {
					panic(err)
				}
				emit("event", ev.ID)
			}
		}()
	}
	go func() {
		for {
			jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: now, Lease: time.Hour, Limit: 20})
			if err != nil {
				panic(err)
			}
			var rs []store.AttemptResult
			for _, j := range jobs {
				rs = append(rs, store.AttemptResult{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusSucceeded,
					Attempt: store.Attempt{StartedAt: now, StatusCode: 200, Trigger: "scheduled"}})
			}
			if _, err := s.CompleteAttempts(ctx, rs); err != nil {
				panic(err)
			}
			for _, r := range rs {
				emit("attempt", r.DeliveryID)
			}
		}
	}()
	select {}
}

func runtimeProcs() int { return runtime.GOMAXPROCS(0) }

// TestStoreRestart runs the suite's restart tests: one Store at a time on
// a database file, as the lock file allows.
func TestStoreRestart(t *testing.T) {
	t.Parallel()
	cipher := newCipher(t)
	storetest.RunRestart(t, func(t *testing.T) func(node string) store.Store {
		path := filepath.Join(t.TempDir(), "hookrelay.db")
		return func(node string) store.Store {
			s, err := sqlite.Open(t.Context(), path, &sqlite.Config{Cipher: cipher, NodeID: node})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return s
		}
	})
}
