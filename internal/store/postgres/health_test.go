package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestReadOnly makes every write fail for real, as on a database whose
// disk is full or that was put in read-only mode: the second store's
// sessions have default_transaction_read_only on, and the server answers
// 25006. The failure must be store.ErrUnavailable, and Health must say so
// while Ping still answers.
func TestReadOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := freshSchema(t)
	cipher := newCipher(t)
	open(t, dsn, cipher) // migrates
	ro := open(t, withParam(dsn, "default_transaction_read_only", "on"), cipher)
	if err := ro.Health(ctx); err != nil {
		t.Fatalf("Health before any write: %v", err)
	}
	ev := &store.Event{ID: store.NewID("evt"), Type: "t", Payload: []byte(`{}`), CreatedAt: time.Now()}
	_, _, err := ro.CreateEvent(ctx, ev, time.Time{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("CreateEvent on a read-only database = %v, want store.ErrUnavailable", err)
	}
	err = ro.CreateAPIKey(ctx, &store.APIKey{ID: "key_1", Name: "k", Hash: []byte("h"), CreatedAt: time.UnixMilli(1)})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("CreateAPIKey on a read-only database = %v, want store.ErrUnavailable", err)
	}
	if err := ro.Health(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Health after a failed write = %v, want store.ErrUnavailable", err)
	}
	if err := ro.Ping(ctx); err != nil {
		t.Errorf("Ping of a read-only database = %v; reads still work", err)
	}
}
