package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// fullStore is a store whose endpoint list fails as a full disk makes a
// store fail (the SQLite and PostgreSQL stores' own mapping is tested
// with a database really full, in their packages).
type fullStore struct{ *sqlite.Store }

func (fullStore) ListEndpoints(context.Context, store.EndpointFilter) ([]*store.Endpoint, string, error) {
	return nil, "", fmt.Errorf("list endpoints: %w: database or disk is full", store.ErrUnavailable)
}

// TestStoreUnavailablePage: a page whose store cannot work answers 503
// with Retry-After and says to try later, not 500 "something went wrong".
func TestStoreUnavailablePage(t *testing.T) {
	t.Parallel()
	b := setup(t, &bundleOptions{wrap: func(st *sqlite.Store) store.Store { return fullStore{st} }})
	r := b.admin().get("/ui/endpoints")
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	if !strings.Contains(r.body, "cannot store data") {
		t.Errorf("page does not say what is wrong:\n%.500s", r.body)
	}
}
