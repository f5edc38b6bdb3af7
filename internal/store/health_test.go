package store

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestWriteHealth(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	h := &WriteHealth{Window: 10 * time.Second, Now: func() time.Time { return now }}
	if err := h.Err(); err != nil {
		t.Fatalf("fresh: %v", err)
	}
	other := errors.New("constraint")
	if got := h.Failed(other); got != other || h.Err() != nil {
		t.Fatalf("an error that is not ErrUnavailable counted: %v", h.Err())
	}
	full := fmt.Errorf("insert: %w: disk full", ErrUnavailable)
	if got := h.Failed(full); got != full {
		t.Fatalf("Failed returned %v, want its argument", got)
	}
	if err := h.Err(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("after a failure: %v", err)
	}
	now = now.Add(9 * time.Second)
	if err := h.Err(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("within the window: %v", err)
	}
	now = now.Add(time.Second)
	if err := h.Err(); err != nil {
		t.Fatalf("past the window: %v", err)
	}
}
