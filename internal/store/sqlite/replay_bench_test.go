package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// BenchmarkReplayMissing1M measures ReplayMissing over a window of a
// million events, each already delivered to one endpoint: "seen" walks
// the whole window for that endpoint, batch after batch, and creates
// nothing (the cost of a second, idempotent run; one op is the whole
// walk), "missed" creates the deliveries of a new endpoint of the tenant
// (one op is one batch of 500).
func BenchmarkReplayMissing1M(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds a million rows")
	}
	const total = 1_000_000
	s, now := openSeeded(b, filepath.Join(b.TempDir(), "bench.db"), total)
	defer s.Close()
	eps, _, err := s.ListEndpoints(b.Context(), store.EndpointFilter{})
	if err != nil || len(eps) != 1 {
		b.Fatalf("endpoints %d, %v", len(eps), err)
	}
	seen := eps[0]
	fresh := benchEndpoint(b, s, false)
	since := now.Add(-time.Hour)
	b.Run("seen", func(b *testing.B) {
		batches, longest := 0, time.Duration(0)
		for b.Loop() {
			p := store.ReplayMissingParams{EndpointID: seen.ID, Since: since, Now: now}
			for {
				start := time.Now()
				res, err := s.ReplayMissing(context.Background(), p)
				longest = max(longest, time.Since(start))
				if err != nil || res.Created != 0 {
					b.Fatalf("ReplayMissing = %+v, %v", res, err)
				}
				batches++
				if res.Next == "" {
					break
				}
				p.After = res.Next
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(batches), "µs/batch")
		b.ReportMetric(float64(longest.Microseconds()), "µs-longest-batch")
	})
	b.Run("missed", func(b *testing.B) {
		p := store.ReplayMissingParams{EndpointID: fresh.ID, Since: since, Now: now}
		created := 0
		for b.Loop() {
			res, err := s.ReplayMissing(context.Background(), p)
			if err != nil || res.Created != store.DefaultReplayMissingBatch {
				b.Fatalf("ReplayMissing = %+v, %v", res, err)
			}
			created += res.Created
			p.After = res.Next
			if created+store.DefaultReplayMissingBatch > total {
				b.Fatal("the window is done: lower -benchtime")
			}
		}
	})
}
