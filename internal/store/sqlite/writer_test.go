package sqlite

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
)

func testStore(t *testing.T) *Store {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "w.db"), &Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestBatchIsolation queues operations behind a blocked one, so that the
// writer runs them as one batch, and checks that failing operations, clean
// or after writing, do not fail or leak into the others.
func TestBatchIsolation(t *testing.T) {
	t.Parallel()
	s := testStore(t)
	insert := func(w *writer, id string) error {
		_, err := w.exec(`INSERT INTO api_keys (id, name, hash, prefix, created_at) VALUES (?, 'k', ?, 'p', 0)`, id, []byte(id))
		return err
	}
	started, release := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		first := true
		blocker <- s.write(context.Background(), func(w *writer) error {
			if first {
				first = false
				started <- struct{}{}
				<-release
			}
			return nil
		})
	}()
	<-started

	runs := map[string]int{}
	boom := errors.New("boom")
	ops := []struct {
		name string
		fn   func(w *writer) error
		want error
	}{
		{"a", func(w *writer) error { runs["a"]++; return insert(w, "a") }, nil},
		{"dirty failure", func(w *writer) error { runs["b"]++; insert(w, "b"); return boom }, boom},
		{"clean conflict", func(w *writer) error { runs["c"]++; return insert(w, "a") }, store.ErrConflict},
		{"d", func(w *writer) error { runs["d"]++; return insert(w, "d") }, nil},
		{"dirty not found", func(w *writer) error { runs["e"]++; insert(w, "e"); return store.ErrNotFound }, store.ErrNotFound},
		{"f", func(w *writer) error { runs["f"]++; return insert(w, "f") }, nil},
	}
	results := make([]chan error, len(ops))
	for i, op := range ops {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.write(context.Background(), op.fn) }()
		// Queue them in order.
		for len(s.ops) < i+1 {
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	if err := <-blocker; err != nil {
		t.Fatal(err)
	}
	for i, op := range ops {
		err := <-results[i]
		if op.want == nil && err != nil || op.want != nil && !errors.Is(err, op.want) {
			t.Errorf("%s: err = %v, want %v", op.name, err, op.want)
		}
	}
	keys, err := s.ListAPIKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	if got := len(ids); got != 3 || ids[0] != "f" || ids[1] != "d" || ids[2] != "a" {
		t.Fatalf("committed keys %v, want [f d a]", ids)
	}
	// Two failures after writing: the batch ran three times, and the
	// operations after the second failure twice.
	if runs["a"] != 3 || runs["b"] != 1 || runs["e"] != 1 || runs["f"] != 1 {
		t.Errorf("runs = %v", runs)
	}
}

func TestIDGen(t *testing.T) {
	t.Parallel()
	var g idGen
	prev := ""
	for range 10000 {
		id := g.next("dlv")
		if id <= prev || len(id) != len("dlv_")+26 {
			t.Fatalf("id %q after %q", id, prev)
		}
		prev = id
	}
	// Continuing after an id from the future.
	future := store.NewID("dlv")
	var h idGen
	h.observe("dlv_" + "zz" + future[6:])
	if id := h.next("dlv"); id <= "dlv_zz"+future[6:] {
		t.Fatalf("id %q does not continue after the observed one", id)
	}
}
