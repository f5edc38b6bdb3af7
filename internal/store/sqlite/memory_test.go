package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

const memoryEnv = "HOOKRELAY_SQLITE_MEMORY_DB"

// maxRSS is what a Store on a queue of a million pending deliveries may
// cost the process, Go runtime included.
const maxRSS = 200 << 20

// TestMemory1M measures the memory a Store costs on a queue of 1,000,000
// pending deliveries. It seeds them, then runs a child process that opens
// the Store and works it as `hookrelay serve` does: the engine claims and
// completes batches while the metrics read QueueStats and the dashboard
// lists deliveries, from every read connection at once. The child reports
// its RSS from /proc/self/status, which must stay under maxRSS. It takes
// half a minute: skipped with -short, and with -race, which multiplies
// memory use (`go test ./internal/store/sqlite -run TestMemory1M -v`).
func TestMemory1M(t *testing.T) {
	if path := os.Getenv(memoryEnv); path != "" {
		memoryChild(t, path)
		return
	}
	if testing.Short() {
		t.Skip("seeds a million rows")
	}
	if raceEnabled {
		t.Skip("the race detector multiplies memory use: run it without -race")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/status")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hookrelay.db")
	key, err := secretbox.LoadOrCreateKeyFile(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(key)
	s := open(t, path, box)
	e := benchEndpoint(t, s, false)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Small events, as a test sender's are: the smaller the database, the
	// more of it a memory mapping of a given size covers.
	seedPayload(t, path, e.ID, 1_000_000, time.Now().UTC().Truncate(time.Millisecond), []byte(`{"n":1}`))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded 1,000,000 pending deliveries in %v: %d MB", time.Since(start).Round(time.Millisecond), fi.Size()>>20)

	cmd := exec.Command(os.Args[0], "-test.run=^TestMemory1M$", "-test.v=true")
	cmd.Env = append(os.Environ(), memoryEnv+"="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var rss int64 = -1
	for line := range strings.Lines(string(out)) {
		if _, after, ok := strings.Cut(line, "memory: "); ok {
			t.Log(strings.TrimSpace(after))
			if v, ok := statusField(after, "VmRSS"); ok {
				rss = v
			}
		}
	}
	if rss < 0 {
		t.Fatalf("the child reported no RSS:\n%s", out)
	}
	if rss > maxRSS {
		t.Errorf("RSS with 1M pending deliveries is %d MB, want under %d MB", rss>>20, maxRSS>>20)
	}
}

// memoryChild is the child process of TestMemory1M.
func memoryChild(t *testing.T, path string) {
	key, err := secretbox.LoadOrCreateKeyFile(filepath.Join(filepath.Dir(path), "key"))
	if err != nil {
		t.Fatal(err)
	}
	box, _ := secretbox.New(key)
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path, &sqlite.Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	report := func(when string) {
		b, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, name := range []string{"VmRSS", "VmHWM", "RssAnon", "RssFile"} {
			if v, ok := statusField(string(b), name); ok {
				fields = append(fields, fmt.Sprintf("%s=%dMB", name, v>>20))
			}
		}
		fmt.Printf("memory: %s %s\n", strings.Join(fields, " "), when)
	}
	report("after Open")

	start := time.Now()
	stop := make(chan struct{})
	var (
		wg    sync.WaitGroup
		reads sync.WaitGroup
	)
	// The engine: 100 batches of 100 claimed and completed.
	wg.Go(func() {
		for range 100 {
			jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: now, Lease: time.Hour, Limit: 100})
			if err != nil || len(jobs) != 100 {
				t.Errorf("claimed %d, %v", len(jobs), err)
				return
			}
			if _, err := s.CompleteAttempts(ctx, complete(jobs, now)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// Metrics and dashboards, more of them than there are read
	// connections, until the engine is done.
	for i := range 2 * max(4, runtime.GOMAXPROCS(0)) {
		reads.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch i % 3 {
				case 0:
					_, err = s.QueueStats(ctx, now)
				case 1:
					_, _, err = s.ListDeliveries(ctx, store.DeliveryFilter{Status: store.StatusPending, Page: store.Page{Limit: 50}})
				case 2:
					_, _, err = s.ListDeliveries(ctx, store.DeliveryFilter{Status: store.StatusSucceeded, Page: store.Page{Limit: 50}})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	reads.Wait()
	report(fmt.Sprintf("after 10,000 deliveries claimed and completed in %v under concurrent reads", time.Since(start).Round(time.Millisecond)))
	// Then, the queue quiet, a dashboard's searches walk the whole table
	// and the metrics the whole queue, from every read connection: each
	// one's cache and mapping as full as the database can make them.
	start = time.Now()
	for range 2 * max(4, runtime.GOMAXPROCS(0)) {
		reads.Go(func() {
			if _, err := s.QueueStats(ctx, now); err != nil {
				t.Error(err)
			}
			if _, _, err := s.ListDeliveries(ctx, store.DeliveryFilter{EventType: "no.such.type"}); err != nil {
				t.Error(err)
			}
		})
	}
	reads.Wait()
	report(fmt.Sprintf("after full scans from every read connection in %v", time.Since(start).Round(time.Millisecond)))
}

// statusField returns the value of a "Name: 123 kB" line of
// /proc/self/status, in bytes, or of a "Name=123MB" field of a report.
func statusField(s, name string) (int64, bool) {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n << 10, err == nil
		}
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, name+"="); ok {
				n, err := strconv.ParseInt(strings.TrimSuffix(v, "MB"), 10, 64)
				return n << 20, err == nil
			}
		}
	}
	return 0, false
}
