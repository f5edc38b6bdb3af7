package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// fanOutFilter is the payload filter of the i-th endpoint of
// BenchmarkFanOut: three conditions that benchPayload matches, so that
// both variants create the same 100 deliveries.
func fanOutFilter(i int) []byte {
	return fmt.Appendf(nil, `{"type": {"$startsWith": "invoice."}, "data": {"amount": {"$gte": %d}, "currency": {"$in": ["usd", "eur"]}}}`, i)
}

// BenchmarkFanOut accepts events, one at a time, for a tenant of 100
// endpoints, without payload filters and with one on every endpoint: the
// ratio of the two is what evaluating 100 filters adds to an event.
//
//	go test -run '^$' -bench FanOut -count 6 ./internal/store/sqlite
func BenchmarkFanOut(b *testing.B) {
	for _, filters := range []bool{false, true} {
		b.Run(fmt.Sprintf("endpoints=100/filters=%v", filters), func(b *testing.B) {
			s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), &sqlite.Config{Cipher: newCipher(b), Synchronous: "normal"})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Millisecond)
			for i := range 100 {
				e := &store.Endpoint{ID: store.NewID("ep"), URL: "http://127.0.0.1:9/hook", Scheme: "standard",
					Secrets: []store.Secret{{Value: "whsec_benchmark", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
				if filters {
					e.Filter = fanOutFilter(i)
				}
				if err := s.CreateEndpoint(context.Background(), e); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				ev := &store.Event{ID: store.NewID("evt"), Type: "invoice.paid", Payload: benchPayload, CreatedAt: time.Now()}
				if _, ds, err := s.CreateEvent(context.Background(), ev, time.Time{}); err != nil || len(ds) != 100 {
					b.Fatalf("CreateEvent: %d deliveries, %v", len(ds), err)
				}
			}
			reportCPU(b, cpu, b.N, "event")
		})
	}
}
