package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/postgres"
)

// The benchmarks mirror internal/store/sqlite's, name for name, so that the
// figures compare. Run them against the throwaway server:
//
//	export HOOKRELAY_TEST_POSTGRES_URL=$(scripts/pg.sh start)
//	go test -run '^$' -bench . ./internal/store/postgres ./internal/store/sqlite
//
// scripts/pg.sh runs PostgreSQL with fsync off, which flatters it against
// SQLite's sync=full; compare with sync=normal, or point the variable at a
// durable server.

var benchPayload = []byte(`{"type":"invoice.paid","data":{"id":"in_1NkXyZ2eZvKYlo2C","amount":129900,"currency":"usd","customer":"cus_9s6XKzkNRiz8i3","lines":[{"sku":"sku_1","qty":2}]}}`)

func benchEndpoint(b *testing.B, s *postgres.Store, fifo bool) *store.Endpoint {
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := &store.Endpoint{ID: store.NewID("ep"), URL: "http://127.0.0.1:9/hook", Scheme: "standard",
		Secrets: []store.Secret{{Value: "whsec_benchmark", CreatedAt: now}}, FIFO: fifo, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(context.Background(), e); err != nil {
		b.Fatal(err)
	}
	return e
}

// benchCipher is shared by the benchmarks' Stores, so that two of them on
// one schema read each other's endpoints.
var benchCipher struct {
	once sync.Once
	box  store.Cipher
}

func openBench(b *testing.B, dsn string, maxConns int32) *postgres.Store {
	b.Helper()
	benchCipher.once.Do(func() { benchCipher.box = newCipher(b) })
	s, err := postgres.Open(context.Background(), dsn, &postgres.Config{Cipher: benchCipher.box, MaxConns: maxConns})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkCreateEvent accepts events with one matching endpoint from 64
// goroutines, as an API under load would. synchronous_commit=on waits for
// the commit's WAL to be written (and flushed, on a server with fsync on),
// like SQLite's sync=full; off does not, like sync=normal.
func BenchmarkCreateEvent(b *testing.B) {
	for _, sync := range []string{"on", "off"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := openBench(b, withParam(freshSchema(b), "synchronous_commit", sync), 16)
			defer s.Close()
			benchEndpoint(b, s, false)
			b.ReportAllocs()
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			cpu := cpuTime(b, s)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := &store.Event{ID: store.NewID("evt"), Type: "invoice.paid", Payload: benchPayload, CreatedAt: time.Now()}
					if _, ds, err := s.CreateEvent(context.Background(), ev, time.Time{}); err != nil || len(ds) != 1 {
						b.Errorf("CreateEvent: %d deliveries, %v", len(ds), err)
						return
					}
				}
			})
			reportCPU(b, s, cpu, b.N, "event")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.StopTimer()
		})
	}
}

// seed bulk-loads n events, each with one pending delivery to endpointID
// due at due (spread over the n milliseconds before, oldest first), with
// COPY, and analyzes the tables.
func seed(b *testing.B, dsn, endpointID string, n int, due time.Time) {
	b.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	at := due.UnixMilli()
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"events"}, []string{"id", "tenant", "event_type", "payload", "created_at"},
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			return []any{fmt.Sprintf("evt_%026d", i), "", "invoice.paid", benchPayload, at}, nil
		})); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"deliveries"},
		[]string{"id", "event_id", "endpoint_id", "tenant", "event_type", "status", "next_attempt_at", "created_at", "updated_at"},
		pgx.CopyFromSlice(n, func(i int) ([]any, error) {
			return []any{fmt.Sprintf("dlv_%026d", i), fmt.Sprintf("evt_%026d", i), endpointID, "", "invoice.paid", "pending",
				at - int64(n-i), at, at}, nil
		})); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
}

// openSeeded returns a store whose one endpoint has n due deliveries.
func openSeeded(b *testing.B, n int, maxConns int32) (*postgres.Store, string, time.Time) {
	b.Helper()
	dsn := freshSchema(b)
	s := openBench(b, dsn, maxConns)
	e := benchEndpoint(b, s, false)
	now := time.Now().UTC().Truncate(time.Millisecond)
	start := time.Now()
	seed(b, dsn, e.ID, n, now)
	b.Logf("seeded %d deliveries in %v", n, time.Since(start).Round(time.Millisecond))
	return s, dsn, now
}

func complete(jobs []*store.Job, now time.Time) []store.AttemptResult {
	rs := make([]store.AttemptResult, len(jobs))
	for i, j := range jobs {
		rs[i] = store.AttemptResult{
			DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusSucceeded,
			Attempt: store.Attempt{
				ID: store.NewID("att"), StartedAt: now, Duration: time.Millisecond, URL: j.Endpoint.URL, StatusCode: 200,
				RequestHeaders: map[string]string{"Content-Type": "application/json", "Webhook-Id": j.Delivery.ID,
					"Webhook-Timestamp": "1700000000", "Webhook-Signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="},
				ResponseBody: []byte("ok"), Trigger: "scheduled",
			},
		}
	}
	return rs
}

// BenchmarkClaimComplete claims 100 due deliveries and completes them, per
// op, from `workers` goroutines at once (the delivery engine claims in one
// loop and completes from another, so 2 is the realistic shape). nodes=2
// splits the workers over two Stores, two pools, as two hookrelay nodes
// would.
func BenchmarkClaimComplete(b *testing.B) {
	const batch = 100
	for _, c := range []struct{ workers, nodes int }{{1, 1}, {2, 1}, {4, 1}, {4, 2}} {
		name := fmt.Sprintf("batch=%d/workers=%d", batch, c.workers)
		if c.nodes > 1 {
			name += fmt.Sprintf("/nodes=%d", c.nodes)
		}
		b.Run(name, func(b *testing.B) {
			first, dsn, now := openSeeded(b, b.N*batch, 8)
			defer first.Close()
			stores := []*postgres.Store{first}
			for range c.nodes - 1 {
				s := openBench(b, dsn, 8)
				defer s.Close()
				stores = append(stores, s)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime(b, first)
			var (
				next atomic.Int64
				wg   sync.WaitGroup
			)
			for w := range c.workers {
				s := stores[w%len(stores)]
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						jobs, err := s.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: now, Lease: time.Minute, Limit: batch})
						if err != nil || len(jobs) != batch {
							b.Errorf("claimed %d, %v", len(jobs), err)
							return
						}
						if lost, err := s.CompleteAttempts(context.Background(), complete(jobs, now)); err != nil || len(lost) != 0 {
							b.Errorf("complete: lost %d, %v", len(lost), err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			reportCPU(b, first, cpu, b.N*batch, "delivery")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkClaimLatency1M claims batches of 100 from a queue of 1,000,000
// due deliveries.
func BenchmarkClaimLatency1M(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a million rows")
	}
	const total, batch = 1_000_000, 100
	s, _, now := openSeeded(b, total, 8)
	defer s.Close()
	st, err := s.QueueStats(b.Context(), now)
	if err != nil || st.Due != total {
		b.Fatalf("QueueStats = %+v, %v", st, err)
	}
	b.Run("claim", func(b *testing.B) {
		if b.N*batch > total/2 {
			b.Skip("more claims than half the queue")
		}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b, s)
		for range b.N {
			start := time.Now()
			jobs, err := s.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: now, Lease: time.Hour, Limit: batch})
			lat = append(lat, time.Since(start))
			if err != nil || len(jobs) != batch {
				b.Fatalf("claimed %d, %v", len(jobs), err)
			}
		}
		b.StopTimer()
		reportCPU(b, s, cpu, b.N, "claim")
		reportLatency(b, lat)
	})
	b.Run("claim+complete", func(b *testing.B) {
		if b.N*batch > total/4 {
			b.Skip("more claims than a quarter of the queue")
		}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime(b, s)
		for range b.N {
			start := time.Now()
			jobs, err := s.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: now, Lease: time.Hour, Limit: batch})
			lat = append(lat, time.Since(start))
			if err != nil || len(jobs) != batch {
				b.Fatalf("claimed %d, %v", len(jobs), err)
			}
			if _, err := s.CompleteAttempts(context.Background(), complete(jobs, now)); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		reportCPU(b, s, cpu, b.N*batch, "delivery")
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-claim-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-claim-µs")
}

// cpuTime is the CPU time (user and system) used by this process and by the
// PostgreSQL backends connected to s's database: SQLite does its work
// in-process, so the server's share counts for the figures to compare.
// The backends are read from /proc, which works when the server runs on
// this machine and is readable (scripts/pg.sh's, run as root); otherwise
// server is false and only the process counts.
func cpuTime(b *testing.B, s *postgres.Store) (t cpuSample) {
	b.Helper()
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	t.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rows, err := s.TestQuery(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		b.Fatal(err)
	}
	t.server = true
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.server = false
			continue
		}
		// The fields after the command, which is in parentheses: utime and
		// stime are the 12th and 13th, in clock ticks of 10ms.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			t.server = false
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		t.backends += time.Duration(ut+st) * 10 * time.Millisecond
	}
	return t
}

type cpuSample struct {
	self, backends time.Duration
	server         bool
}

// reportCPU reports the CPU time used since start per unit, the server's
// included when it could be read (cpu-µs/unit), else the process's alone
// (client-cpu-µs/unit).
func reportCPU(b *testing.B, s *postgres.Store, start cpuSample, n int, unit string) {
	end := cpuTime(b, s)
	if start.server && end.server {
		b.ReportMetric(float64((end.self+end.backends-start.self-start.backends).Microseconds())/float64(n), "cpu-µs/"+unit)
		return
	}
	b.ReportMetric(float64((end.self-start.self).Microseconds())/float64(n), "client-cpu-µs/"+unit)
}
