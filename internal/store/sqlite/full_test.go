package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// TestFull fills a database for real: Config.MaxPageCount caps its size as
// a full disk would, and SQLite answers SQLITE_FULL. The write must fail
// with store.ErrUnavailable, Health must say so while Ping still answers,
// and what fits must still be written.
func TestFull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "full.db"), &sqlite.Config{Cipher: newCipher(t), MaxPageCount: 200})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Health(ctx); err != nil {
		t.Fatalf("Health of a fresh store: %v", err)
	}
	payload := bytes.Repeat([]byte("x"), 64<<10)
	var werr error
	for i := range 100 {
		ev := &store.Event{ID: store.NewID("evt"), Type: "t", Payload: payload, CreatedAt: time.Now()}
		if _, _, werr = s.CreateEvent(ctx, ev, time.Time{}); werr != nil {
			t.Logf("event %d failed: %v", i, werr)
			break
		}
	}
	if werr == nil {
		t.Fatal("100 events of 64 KiB fit in 200 pages")
	}
	if !errors.Is(werr, store.ErrUnavailable) {
		t.Fatalf("CreateEvent on a full database = %v, want store.ErrUnavailable", werr)
	}
	if err := s.Health(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Health after a failed write = %v, want store.ErrUnavailable", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping of a full database = %v; reads still work", err)
	}
	// A small write still fits: the writer survived the failure.
	if err := s.CreateAPIKey(ctx, &store.APIKey{ID: "key_1", Name: "k", Hash: []byte("h"), CreatedAt: time.UnixMilli(1)}); err != nil {
		t.Errorf("a small write after the failure: %v", err)
	}
}
