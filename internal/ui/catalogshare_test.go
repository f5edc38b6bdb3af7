package ui

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/store"
)

// TestDeleteForgetsSharedCatalog: a type deleted on the dashboard stops
// applying at once to the events checked by the Catalog the dashboard
// shares (serve's API), not after the cache's bound: the clock stands
// still, so only the delete going through the Catalog can drop the cached
// type (it once went to the store directly).
func TestDeleteForgetsSharedCatalog(t *testing.T) {
	t.Parallel()
	var cat *catalog.Catalog
	b := setup(t, &bundleOptions{mutate: func(c *Config) {
		var err error
		if cat, err = catalog.New(&catalog.Config{Store: c.Store, Now: c.Now}); err != nil {
			t.Fatal(err)
		}
		c.Catalog = cat
	}})
	ctx := context.Background()
	now := b.clock.Now()
	if err := b.st.CreateEventType(ctx, &store.EventType{Name: "order.created", Schema: []byte(`{"type":"object","required":["id"]}`),
		Enforce: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	var v *catalog.Violation
	if err := cat.CheckEvent(ctx, "order.created", []byte(`{}`)); !errors.As(err, &v) {
		t.Fatalf("before delete: %v, want a violation", err)
	}
	a := b.admin()
	if r := a.post("/ui/event-types/order.created/delete", nil, "/ui/event-types/order.created/delete"); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if err := cat.CheckEvent(ctx, "order.created", []byte(`{}`)); err != nil {
		t.Errorf("after the dashboard's delete: %v, want nil (no type)", err)
	}
}
