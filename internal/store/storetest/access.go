package storetest

import (
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// testAPIKeyAccess: a key's tenant and scopes round-trip through create,
// lookup, get and list; a key stored without scopes reads back as admin;
// GetAPIKey finds revoked keys too.
func testAPIKeyAccess(h *harness) {
	tenant := "acme"
	k1, hash1 := newAPIKey("tenant")
	k1.Tenant, k1.Scopes = &tenant, []string{"deliveries:read", "endpoints:read"}
	k2, _ := newAPIKey("legacy")
	for _, k := range []*store.APIKey{k1, k2} {
		if err := h.s.CreateAPIKey(h.ctx, k); err != nil {
			h.Fatalf("CreateAPIKey: %v", err)
		}
	}
	got, err := h.s.APIKeyByHash(h.ctx, hash1)
	if err != nil || got.Tenant == nil || *got.Tenant != "acme" || !slices.Equal(got.Scopes, k1.Scopes) {
		h.Fatalf("APIKeyByHash = %+v, %v; want tenant acme and scopes %v", got, err, k1.Scopes)
	}
	got, err = h.s.GetAPIKey(h.ctx, k2.ID)
	if err != nil || got.Tenant != nil || !slices.Equal(got.Scopes, []string{"admin"}) {
		h.Fatalf("GetAPIKey(no scopes) = %+v, %v; want every tenant, [admin]", got, err)
	}
	if err := h.s.RevokeAPIKey(h.ctx, k1.ID, now()); err != nil {
		h.Fatalf("RevokeAPIKey: %v", err)
	}
	if got, err := h.s.GetAPIKey(h.ctx, k1.ID); err != nil || got.RevokedAt == nil || *got.Tenant != "acme" {
		h.Fatalf("GetAPIKey(revoked) = %+v, %v", got, err)
	}
	_, err = h.s.GetAPIKey(h.ctx, "key_missing")
	wantErr(h, "GetAPIKey(missing)", err, store.ErrNotFound)
	list, err := h.s.ListAPIKeys(h.ctx)
	if err != nil || len(list) != 2 {
		h.Fatalf("ListAPIKeys = %d, %v", len(list), err)
	}
	for _, k := range list {
		if k.ID == k1.ID && (k.Tenant == nil || len(k.Scopes) != 2) {
			h.Fatalf("listed tenant key = %+v", k)
		}
	}
}

// testTouchAPIKey: the use of a key is written at most once per
// KeyUseInterval, and touching writes nothing but last_used_at.
func testTouchAPIKey(h *harness) {
	k, hash := newAPIKey("used")
	if err := h.s.CreateAPIKey(h.ctx, k); err != nil {
		h.Fatalf("CreateAPIKey: %v", err)
	}
	t0 := now()
	steps := []struct {
		at    time.Time
		wrote bool
		want  time.Time
	}{
		{t0, true, t0},
		{t0.Add(time.Second), false, t0},
		{t0.Add(store.KeyUseInterval - time.Millisecond), false, t0},
		{t0.Add(store.KeyUseInterval), true, t0.Add(store.KeyUseInterval)},
	}
	for i, st := range steps {
		wrote, err := h.s.TouchAPIKey(h.ctx, k.ID, st.at)
		if err != nil || wrote != st.wrote {
			h.Fatalf("step %d: TouchAPIKey = %v, %v; want %v", i, wrote, err, st.wrote)
		}
		got, err := h.s.APIKeyByHash(h.ctx, hash)
		if err != nil || got.LastUsedAt == nil || !got.LastUsedAt.Equal(st.want) || got.Name != "used" {
			h.Fatalf("step %d: key = %+v, %v; want last used %s", i, got, err, st.want)
		}
	}
	if wrote, err := h.s.TouchAPIKey(h.ctx, "key_missing", t0); err != nil || wrote {
		h.Fatalf("TouchAPIKey(missing) = %v, %v", wrote, err)
	}
}

// testAudit: entries round-trip, list newest first, filter by tenant,
// page, and are pruned with the history.
func testAudit(h *harness) {
	acme, other := "acme", "other"
	t0 := now()
	var ids []string
	for i, tn := range []*string{&acme, nil, &other, &acme} {
		e := &store.AuditEntry{
			ID: store.NewID("aud"), At: t0.Add(time.Duration(i) * time.Hour), ActorKind: "key", ActorID: "key_1",
			Tenant: tn, Action: "endpoint.update", Target: "ep_1", RemoteAddr: "192.0.2.1", Detail: "PATCH",
		}
		if err := h.s.AddAudit(h.ctx, e); err != nil {
			h.Fatalf("AddAudit: %v", err)
		}
		ids = append(ids, e.ID)
	}
	all, next, err := h.s.ListAudit(h.ctx, store.AuditFilter{})
	if err != nil || len(all) != 4 || next != "" {
		h.Fatalf("ListAudit = %d, %q, %v; want 4", len(all), next, err)
	}
	if !slices.IsSortedFunc(all, func(a, b *store.AuditEntry) int { return strings.Compare(b.ID, a.ID) }) {
		h.Fatalf("ListAudit not newest first")
	}
	e := all[slices.IndexFunc(all, func(e *store.AuditEntry) bool { return e.ID == ids[1] })]
	if e.Tenant != nil || e.ActorKind != "key" || e.ActorID != "key_1" || e.Action != "endpoint.update" ||
		e.Target != "ep_1" || e.RemoteAddr != "192.0.2.1" || e.Detail != "PATCH" || !e.At.Equal(t0.Add(time.Hour)) {
		h.Fatalf("entry = %+v", e)
	}
	mine, _, err := h.s.ListAudit(h.ctx, store.AuditFilter{Tenant: &acme})
	if err != nil || len(mine) != 2 || *mine[0].Tenant != "acme" || *mine[1].Tenant != "acme" {
		h.Fatalf("ListAudit(acme) = %d, %v; want 2", len(mine), err)
	}
	page, next, err := h.s.ListAudit(h.ctx, store.AuditFilter{Page: store.Page{Limit: 3}})
	if err != nil || len(page) != 3 || next == "" {
		h.Fatalf("ListAudit(limit 3) = %d, %q, %v", len(page), next, err)
	}
	rest, next, err := h.s.ListAudit(h.ctx, store.AuditFilter{Page: store.Page{Limit: 3, Cursor: next}})
	if err != nil || len(rest) != 1 || next != "" {
		h.Fatalf("ListAudit(second page) = %d, %q, %v", len(rest), next, err)
	}
	res, err := h.s.Prune(h.ctx, store.PruneParams{Before: t0.Add(90 * time.Minute), Batch: 1})
	if err != nil || res.AuditEntries != 2 {
		h.Fatalf("Prune = %+v, %v; want 2 audit entries", res, err)
	}
	left, _, err := h.s.ListAudit(h.ctx, store.AuditFilter{})
	if err != nil || len(left) != 2 {
		h.Fatalf("ListAudit after Prune = %d, %v; want 2", len(left), err)
	}
	for _, e := range left {
		if e.At.Before(t0.Add(90 * time.Minute)) {
			h.Fatalf("entry of %s survived the prune", e.At)
		}
	}
}
