package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// BenchmarkReplayFailedBatch measures the batches of a failed-deliveries
// replay over an endpoint with 200,000 deliveries, every other one failed
// and the others succeeded: one op is one batch of 500 made due again, in
// one transaction (the partial index deliveries_replayable makes a batch
// look at failed ones only). Run with -benchtime=100x at most: the window
// holds 200 batches.
func BenchmarkReplayFailedBatch(b *testing.B) {
	const total = 200_000
	path := filepath.Join(b.TempDir(), "bench.db")
	s, now := openSeeded(b, path, total)
	defer s.Close()
	// The store is idle: its seeded rows change under it, as seed wrote them.
	db, err := sql.Open("sqlite", path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE deliveries SET status = CASE WHEN CAST(substr(id, 5) AS INTEGER) % 2 = 0 THEN 'failed' ELSE 'succeeded' END,
		completed_at = created_at`); err != nil {
		b.Fatal(err)
	}
	db.Close()
	eps, _, err := s.ListEndpoints(b.Context(), store.EndpointFilter{})
	if err != nil || len(eps) != 1 {
		b.Fatalf("endpoints %d, %v", len(eps), err)
	}
	p := store.ReplayFailedParams{EndpointID: eps[0].ID, Since: now.Add(-time.Hour), Now: now}
	longest := time.Duration(0)
	for b.Loop() {
		start := time.Now()
		res, err := s.ReplayFailedBatch(context.Background(), p)
		longest = max(longest, time.Since(start))
		if err != nil || res.Queued != store.DefaultReplayBatch {
			b.Fatalf("ReplayFailedBatch = %+v, %v", res, err)
		}
		p.After = res.Next
	}
	b.ReportMetric(float64(store.DefaultReplayBatch*b.N)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64(longest.Microseconds()), "µs-longest-batch")
}
