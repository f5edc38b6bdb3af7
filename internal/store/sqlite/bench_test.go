package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

var benchPayload = []byte(`{"type":"invoice.paid","data":{"id":"in_1NkXyZ2eZvKYlo2C","amount":129900,"currency":"usd","customer":"cus_9s6XKzkNRiz8i3","lines":[{"sku":"sku_1","qty":2}]}}`)

func benchEndpoint(b testing.TB, s *sqlite.Store, fifo bool) *store.Endpoint {
	now := time.Now().UTC().Truncate(time.Millisecond)
	e := &store.Endpoint{ID: store.NewID("ep"), URL: "http://127.0.0.1:9/hook", Scheme: "standard",
		Secrets: []store.Secret{{Value: "whsec_benchmark", CreatedAt: now}}, FIFO: fifo, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateEndpoint(context.Background(), e); err != nil {
		b.Fatal(err)
	}
	return e
}

// BenchmarkCreateEvent accepts events with one matching endpoint from 64
// goroutines, as an API under load would.
func BenchmarkCreateEvent(b *testing.B) {
	for _, sync := range []string{"full", "normal"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), &sqlite.Config{Cipher: newCipher(b), Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			benchEndpoint(b, s, false)
			b.ReportAllocs()
			b.SetParallelism(max(1, 64/runtimeProcs()))
			b.ResetTimer()
			cpu := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					ev := &store.Event{ID: store.NewID("evt"), Type: "invoice.paid", Payload: benchPayload, CreatedAt: time.Now()}
					if _, ds, err := s.CreateEvent(context.Background(), ev, time.Time{}); err != nil || len(ds) != 1 {
						b.Errorf("CreateEvent: %d deliveries, %v", len(ds), err)
						return
					}
				}
			})
			reportCPU(b, cpu, b.N, "event")
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.StopTimer()
		})
	}
}

// seed bulk-inserts n events, each with one pending delivery to endpointID,
// due over the n milliseconds before due, oldest first, in one transaction
// run inside SQLite, into a migrated database that no Store has open.
func seed(b testing.TB, path, endpointID string, n int, due time.Time) {
	b.Helper()
	seedPayload(b, path, endpointID, n, due, benchPayload)
}

// seedPayload is seed with the events' payload.
func seedPayload(b testing.TB, path, endpointID string, n int, due time.Time, payload []byte) {
	b.Helper()
	db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_synchronous=OFF&_pragma=cache_size(-262144)")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	at := due.UnixMilli()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		INSERT INTO events (id, tenant, event_type, payload, created_at)
		SELECT printf('evt_%026d', i), '', 'invoice.paid', ?2, ?3 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		INSERT INTO deliveries (id, event_id, endpoint_id, tenant, event_type, status, next_attempt_at, created_at, updated_at)
		SELECT printf('dlv_%026d', i), printf('evt_%026d', i), ?4, '', 'invoice.paid', 'pending', ?3 - ?1 + i, ?3, ?3 FROM n`,
	} {
		if _, err := tx.ExecContext(ctx, q, n, string(payload), at, endpointID); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// openSeeded returns a store whose one endpoint has n due deliveries.
func openSeeded(b *testing.B, path string, n int) (*sqlite.Store, time.Time) {
	b.Helper()
	cipher := newCipher(b)
	s, err := sqlite.Open(b.Context(), path, &sqlite.Config{Cipher: cipher})
	if err != nil {
		b.Fatal(err)
	}
	e := benchEndpoint(b, s, false)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	start := time.Now()
	seed(b, path, e.ID, n, now)
	b.Logf("seeded %d deliveries in %v", n, time.Since(start).Round(time.Millisecond))
	s, err = sqlite.Open(b.Context(), path, &sqlite.Config{Cipher: cipher})
	if err != nil {
		b.Fatal(err)
	}
	return s, now
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
// loop and completes from another, so 2 is the realistic shape).
func BenchmarkClaimComplete(b *testing.B) {
	const batch = 100
	for _, workers := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("batch=%d/workers=%d", batch, workers), func(b *testing.B) {
			s, now := openSeeded(b, filepath.Join(b.TempDir(), "bench.db"), b.N*batch)
			defer s.Close()
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			var (
				next atomic.Int64
				wg   sync.WaitGroup
			)
			for range workers {
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
			reportCPU(b, cpu, b.N*batch, "delivery")
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkClaimCompleteLimited is BenchmarkClaimComplete's one worker
// with the per-endpoint limits of a shared store (store.ClaimParams
// MaxInFlight and RateLimits), which the limits never stop: what keeping
// them costs a claim. maxInFlight=1000 caps nothing; rate=1e6 makes the
// endpoint rate-limited with a bucket that never runs out.
func BenchmarkClaimCompleteLimited(b *testing.B) {
	const batch = 100
	for _, rate := range []float64{0, 1e6} {
		b.Run(fmt.Sprintf("batch=%d/maxInFlight=1000/rate=%g", batch, rate), func(b *testing.B) {
			s, now := openSeeded(b, filepath.Join(b.TempDir(), "bench.db"), b.N*batch)
			defer s.Close()
			if rate > 0 {
				eps, _, err := s.ListEndpoints(b.Context(), store.EndpointFilter{})
				if err != nil || len(eps) != 1 {
					b.Fatalf("ListEndpoints: %d, %v", len(eps), err)
				}
				if _, err := s.UpdateEndpoint(b.Context(), eps[0].ID, func(*store.Endpoint) (store.EndpointPatch, error) {
					return store.EndpointPatch{RateLimit: &rate}, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			p := store.ClaimParams{Now: now, Lease: time.Minute, Limit: batch, MaxInFlight: 1000, RateLimits: true}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for range b.N {
				jobs, err := s.ClaimDueDeliveries(context.Background(), p)
				if err != nil || len(jobs) != batch {
					b.Fatalf("claimed %d, %v", len(jobs), err)
				}
				if lost, err := s.CompleteAttempts(context.Background(), complete(jobs, now)); err != nil || len(lost) != 0 {
					b.Fatalf("complete: lost %d, %v", len(lost), err)
				}
			}
			b.StopTimer()
			reportCPU(b, cpu, b.N*batch, "delivery")
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
	s, now := openSeeded(b, filepath.Join(b.TempDir(), "bench.db"), total)
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
		cpu := cpuTime()
		for range b.N {
			start := time.Now()
			jobs, err := s.ClaimDueDeliveries(context.Background(), store.ClaimParams{Now: now, Lease: time.Hour, Limit: batch})
			lat = append(lat, time.Since(start))
			if err != nil || len(jobs) != batch {
				b.Fatalf("claimed %d, %v", len(jobs), err)
			}
		}
		b.StopTimer()
		reportCPU(b, cpu, b.N, "claim")
		reportLatency(b, lat)
	})
	b.Run("claim+complete", func(b *testing.B) {
		if b.N*batch > total/4 {
			b.Skip("more claims than a quarter of the queue")
		}
		lat := make([]time.Duration, 0, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		cpu := cpuTime()
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
		reportCPU(b, cpu, b.N*batch, "delivery")
		b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-claim-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-claim-µs")
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the process's CPU time since start per unit: what the
// store costs the machine, whatever else runs on it.
func reportCPU(b *testing.B, start time.Duration, n int, unit string) {
	b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(n), "cpu-µs/"+unit)
}

// BenchmarkCreateEvents100 stores 100 events per op with CreateEvents (what
// POST /api/v1/events/batch does), each with one delivery, from one
// goroutine: the CPU of one batch's transaction, fsync included.
func BenchmarkCreateEvents100(b *testing.B) {
	const batch = 100
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), &sqlite.Config{Cipher: newCipher(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchEndpoint(b, s, false)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	for range b.N {
		evs := make([]*store.Event, batch)
		for i := range evs {
			evs[i] = &store.Event{Type: "invoice.paid", Payload: benchPayload, IdempotencyKey: store.NewID("key"), CreatedAt: time.Now()}
		}
		res, err := s.CreateEvents(context.Background(), evs, time.Now().Add(-time.Hour))
		if err != nil || len(res) != batch {
			b.Fatalf("CreateEvents: %d results, %v", len(res), err)
		}
		for _, r := range res {
			if r.Err != nil || len(r.Deliveries) != 1 {
				b.Fatalf("event: %d deliveries, %v", len(r.Deliveries), r.Err)
			}
		}
	}
	b.StopTimer()
	reportCPU(b, cpu, b.N*batch, "event")
}
