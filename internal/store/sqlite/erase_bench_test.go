package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// BenchmarkErasePayloads measures the retention erasure: one op erases
// the payloads of 1,000 events of a tenant, each with a pending delivery
// (canceled with it), in batches of 500.
func BenchmarkErasePayloads(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"), &sqlite.Config{Cipher: newCipher(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchEndpoint(b, s, false)
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	const n = 1000
	var erased int64
	for b.Loop() {
		b.StopTimer()
		for i := range n {
			ev := &store.Event{ID: store.NewID("evt"), Type: "a", Payload: []byte(`{"email":"alice@example.com"}`),
				CreatedAt: t0.Add(time.Duration(i) * time.Millisecond)}
			if _, _, err := s.CreateEvent(context.Background(), ev, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		got, err := s.ErasePayloads(context.Background(), store.ErasePayloadsParams{Before: t0.Add(time.Hour), Now: t0, Batch: 500})
		if err != nil || got != n {
			b.Fatalf("ErasePayloads = %d, %v; want %d", got, err, n)
		}
		erased += got
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(erased), "µs/event")
}
