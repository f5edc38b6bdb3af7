package api

import "testing"

// TestNewNilStore: a config without a store is an error, as it is for the
// other constructors, not a panic.
func TestNewNilStore(t *testing.T) {
	t.Parallel()
	a, err := New(Config{})
	if err == nil || a != nil {
		t.Fatalf("New without a store: %v, %v; want an error", a, err)
	}
}
