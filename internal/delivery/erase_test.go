package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestTenantPayloadRetention: on the engine's clock, the prune job erases
// the payloads of a tenant's events older than its payload retention,
// keeps their metadata, and leaves the other tenants' and newer events'.
func TestTenantPayloadRetention(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := newFakeClock(t0)
	b := setup(t, Config{AllowPrivateNetworks: true, Now: clock.now, PruneBatch: 2,
		TenantPayloadRetention: map[string]time.Duration{"acme": 24 * time.Hour}})
	ctx := context.Background()
	event := func(tenant string, age time.Duration) *store.Event {
		t.Helper()
		ev, _, err := b.store.CreateEvent(ctx, &store.Event{ID: store.NewID("evt"), Tenant: tenant, Type: "a",
			Payload: []byte(`{"email":"alice@example.com"}`), CreatedAt: t0.Add(-age)}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	var oldAcme []*store.Event
	for range 3 { // more than one batch
		oldAcme = append(oldAcme, event("acme", 48*time.Hour))
	}
	newAcme := event("acme", time.Hour)
	oldBeta := event("beta", 48*time.Hour)
	erased := func(ev *store.Event) *time.Time {
		t.Helper()
		got, err := b.store.GetEvent(ctx, ev.ID)
		if err != nil {
			t.Fatalf("GetEvent(%s): %v (an erased event keeps its metadata)", ev.ID, err)
		}
		if (got.ErasedAt != nil) != (len(got.Payload) == 0) {
			t.Fatalf("event %s: ErasedAt %v with payload %q", ev.ID, got.ErasedAt, got.Payload)
		}
		return got.ErasedAt
	}

	b.engine.prune(ctx)
	for _, ev := range oldAcme {
		if at := erased(ev); at == nil || !at.Equal(t0) {
			t.Errorf("acme's 48h-old event %s: ErasedAt %v, want %v", ev.ID, at, t0)
		}
	}
	if erased(newAcme) != nil || erased(oldBeta) != nil {
		t.Errorf("erased an event within acme's retention, or of a tenant without one")
	}

	clock.advance(22 * time.Hour) // newAcme is 23h old
	b.engine.prune(ctx)
	if erased(newAcme) != nil {
		t.Errorf("erased acme's 23h-old event")
	}
	clock.advance(2 * time.Hour) // 25h old
	b.engine.prune(ctx)
	if at := erased(newAcme); at == nil || !at.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("acme's 25h-old event: ErasedAt %v, want %v", at, t0.Add(24*time.Hour))
	}
	if erased(oldBeta) != nil {
		t.Errorf("erased beta's event, which has no payload retention")
	}
}

func TestTenantPayloadRetentionInvalid(t *testing.T) {
	t.Parallel()
	if _, err := New(Config{Store: openStore(t), TenantPayloadRetention: map[string]time.Duration{"acme": 0}}); err == nil {
		t.Fatal("New accepted a zero payload retention")
	}
}
