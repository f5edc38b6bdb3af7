package leader_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/leader"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
)

// baseURL returns the server of the PostgreSQL tests, skipping without one
// (failing in CI, where skipping would hide the tests).
func baseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("HOOKRELAY_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("HOOKRELAY_TEST_POSTGRES_URL is not set; scripts/test.sh starts a server and sets it")
		}
		t.Skip("HOOKRELAY_TEST_POSTGRES_URL is not set; run scripts/test.sh, or scripts/pg.sh start and set it")
	}
	return u
}

func exec(t *testing.T, dsn, q string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// twoNodes opens two Stores on a fresh schema: two hookrelay nodes sharing a
// database.
func twoNodes(t *testing.T) (a, b *postgres.Store, base string) {
	t.Helper()
	base = baseURL(t)
	buf := make([]byte, 8)
	rand.Read(buf)
	schema := "t_" + hex.EncodeToString(buf)
	exec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { exec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), u.String(), &postgres.Config{Cipher: box, MaxConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return open(), open(), base
}

// randomKey returns a lock key no other test uses: advisory locks are
// database-wide, and tests run in parallel.
func randomKey() int64 {
	var b [8]byte
	rand.Read(b[:])
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// changes records OnChange calls.
type changes struct {
	mu  sync.Mutex
	got []bool
}

func (c *changes) add(v bool) { c.mu.Lock(); c.got = append(c.got, v); c.mu.Unlock() }
func (c *changes) list() []bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]bool(nil), c.got...)
}

func TestTwoNodes(t *testing.T) {
	t.Parallel()
	sa, sb, base := twoNodes(t)
	ctx := context.Background()
	key := randomKey()
	var ca, cb changes
	a := leader.New(&leader.Config{Locker: sa, Key: key, OnChange: ca.add})
	b := leader.New(&leader.Config{Locker: sb, Key: key, OnChange: cb.add})
	t.Cleanup(a.Resign)
	t.Cleanup(b.Resign)

	if a.Leading() || b.Leading() {
		t.Fatal("an elector with a Locker leads before its first campaign")
	}
	if !a.Check(ctx) {
		t.Fatal("a: first campaign on a free lock lost")
	}
	if b.Check(ctx) {
		t.Fatal("b leads while a holds the lock")
	}
	// The leader confirms (release and retake) as often as it likes and
	// stays the leader; the follower keeps following.
	for range 5 {
		if !a.Check(ctx) {
			t.Fatal("a lost leadership on a renewal with no competition")
		}
		if b.Check(ctx) {
			t.Fatal("b leads while a holds the lock")
		}
	}
	if !a.Leading() || b.Leading() {
		t.Fatalf("Leading: a %v, b %v; want true, false", a.Leading(), b.Leading())
	}

	// Resigning hands over at the follower's next campaign.
	a.Resign()
	if a.Leading() {
		t.Fatal("a leads after resigning")
	}
	if !b.Check(ctx) {
		t.Fatal("b: campaign after a resigned lost")
	}
	if a.Check(ctx) {
		t.Fatal("a leads while b holds the lock")
	}

	// b's connection drops: the server ends its session, and with it the
	// lock. a takes over at its next campaign, and b, confirming before its
	// next job, finds it is no longer the leader.
	exec(t, base, `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND objsubid = 1 AND classid::bigint = $1 AND objid::bigint = $2`,
		int64(uint32(key>>32)), int64(uint32(key)))
	deadline := time.Now().Add(10 * time.Second)
	for !a.Check(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("a did not take over within 10s of b's session ending")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if b.Check(ctx) {
		t.Fatal("b still leads after its lock's session ended and a took over")
	}
	if b.Leading() {
		t.Fatal("b.Leading after losing")
	}

	if got, want := ca.list(), []bool{true, false, true}; !slices.Equal(got, want) {
		t.Errorf("a's changes %v, want %v", got, want)
	}
	if got, want := cb.list(), []bool{true, false}; !slices.Equal(got, want) {
		t.Errorf("b's changes %v, want %v", got, want)
	}
}

// countingLocker counts the locks its Locker has granted and not yet had
// released.
type countingLocker struct {
	leader.Locker
	t       *testing.T
	mu      *sync.Mutex
	holders *int
}

func (c countingLocker) TryAdvisoryLock(ctx context.Context, key int64) (func(), bool, error) {
	release, ok, err := c.Locker.TryAdvisoryLock(ctx, key)
	if !ok {
		return release, ok, err
	}
	c.mu.Lock()
	*c.holders++
	if *c.holders > 1 {
		c.t.Errorf("%d holders of the leader lock at once", *c.holders)
	}
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			*c.holders--
			c.mu.Unlock()
			release()
		})
	}, true, nil
}

// TestOneLeaderAtATime has four nodes, on two stores, campaign at once,
// over and over: the lock never has two holders, someone leads, and every
// lock taken is given back.
func TestOneLeaderAtATime(t *testing.T) {
	t.Parallel()
	sa, sb, _ := twoNodes(t)
	key := randomKey()
	var mu sync.Mutex
	holders := 0
	var wg sync.WaitGroup
	var leads [4]int
	for i := range 4 {
		var st leader.Locker = sa
		if i%2 == 1 {
			st = sb
		}
		el := leader.New(&leader.Config{Locker: countingLocker{st, t, &mu, &holders}, Key: key})
		wg.Go(func() {
			defer el.Resign()
			for range 40 {
				if el.Check(context.Background()) {
					leads[i]++
				}
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range leads {
		total += n
	}
	if total == 0 {
		t.Fatal("no node ever led")
	}
	if holders != 0 {
		t.Fatalf("%d locks not given back after every node resigned", holders)
	}
	t.Logf("campaigns won per node: %v", leads)
}

func TestWithoutLocker(t *testing.T) {
	t.Parallel()
	e := leader.New(nil)
	if !e.Leading() || !e.Check(context.Background()) {
		t.Fatal("a node without a Locker must always lead")
	}
	e.Resign()
	if !e.Leading() {
		t.Fatal("Resign without a Locker changed leadership")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.Run(ctx) // returns at once
}

// failingLocker fails like a database that cannot be reached.
type failingLocker struct{ err error }

func (f failingLocker) TryAdvisoryLock(context.Context, int64) (func(), bool, error) {
	return nil, false, f.err
}

// flakyLocker grants the lock, then fails, then grants it again.
type flakyLocker struct {
	mu       sync.Mutex
	calls    int
	released int
}

func (f *flakyLocker) TryAdvisoryLock(context.Context, int64) (func(), bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls == 2 {
		return nil, false, errors.New("connection refused")
	}
	var once sync.Once
	return func() { once.Do(func() { f.mu.Lock(); f.released++; f.mu.Unlock() }) }, true, nil
}

func TestDatabaseErrorsMeanNotLeading(t *testing.T) {
	t.Parallel()
	e := leader.New(&leader.Config{Locker: failingLocker{errors.New("connection refused")}})
	if e.Check(context.Background()) || e.Leading() {
		t.Fatal("leads without reaching the database")
	}

	f := &flakyLocker{}
	var c changes
	e = leader.New(&leader.Config{Locker: f, OnChange: c.add})
	if !e.Check(context.Background()) {
		t.Fatal("first campaign lost")
	}
	if e.Check(context.Background()) {
		t.Fatal("still leads after the database failed")
	}
	if !e.Check(context.Background()) {
		t.Fatal("did not lead again once the database answered")
	}
	e.Resign()
	if got, want := c.list(), []bool{true, false, true, false}; !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.released != 2 {
		t.Errorf("released %d locks, want both taken", f.released)
	}
}

func TestRunCampaignsAndResigns(t *testing.T) {
	t.Parallel()
	f := &flakyLocker{calls: 2} // never fails
	var c changes
	e := leader.New(&leader.Config{Locker: f, Interval: 5 * time.Millisecond, OnChange: c.add})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f.mu.Lock()
		n := f.calls
		f.mu.Unlock()
		if n >= 6 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Run does not campaign every Interval")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if e.Leading() {
		t.Fatal("still leading after Run returned")
	}
	if got, want := c.list(), []bool{true, false}; !slices.Equal(got, want) {
		t.Errorf("changes %v, want %v", got, want)
	}
}

func TestKey(t *testing.T) {
	t.Parallel()
	if leader.Key("a") == leader.Key("b") || leader.Key("") != leader.Key("") {
		t.Fatal("Key must differ per schema and be stable")
	}
}
