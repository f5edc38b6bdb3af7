package storetest

import (
	"slices"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func testEndpointCRUD(h *harness) {
	n := now()
	failing := n.Add(-time.Hour)
	e := newEndpoint("acme")
	e.Description = "orders → ERP"
	e.Scheme = "custom"
	e.CustomScheme = []byte(`{"header":"X-Sig","algorithm":"sha256", "template":"{ts}.{body}"}`)
	e.Secrets = []store.Secret{
		{Value: "new-secret", CreatedAt: n},
		{Value: "old-secret", CreatedAt: n.Add(-24 * time.Hour), ExpiresAt: new(n.Add(time.Hour))},
	}
	e.EventTypes = []string{"invoice.*", "order.created"}
	e.FIFO = true
	e.RateLimit = 12.5
	e.TraceContext = true
	e.FailingSince = &failing
	if err := h.s.CreateEndpoint(h.ctx, e); err != nil {
		h.Fatalf("CreateEndpoint: %v", err)
	}
	wantEndpoint(h, h.getEndpoint(e.ID), e)

	dup := newEndpoint("other")
	dup.ID = e.ID
	wantErr(h, "CreateEndpoint with a taken id", h.s.CreateEndpoint(h.ctx, dup), store.ErrConflict)
	wantEndpoint(h, h.getEndpoint(e.ID), e)

	_, err := h.s.GetEndpoint(h.ctx, "ep_missing")
	wantErr(h, "GetEndpoint(missing)", err, store.ErrNotFound)

	// A patch of every field it can name writes them, and UpdatedAt; the
	// tenant, CreatedAt and FailingSince (the engine's) stay.
	u := *e
	u.URL = "https://example.org/new"
	u.Description = ""
	u.Scheme = "github"
	u.CustomScheme = nil
	u.Secrets = []store.Secret{{Value: "rotated", CreatedAt: n.Add(time.Minute)}}
	u.EventTypes = nil
	u.Disabled = true
	u.DisabledReason = "manual"
	u.FIFO = false
	u.RateLimit = 0
	u.TraceContext = false
	u.UpdatedAt = n.Add(2 * time.Minute)
	var seen *store.Endpoint
	got, err := h.s.UpdateEndpoint(h.ctx, e.ID, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		seen = cur
		return fullPatch(&u), nil
	})
	if err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
	wantEndpoint(h, seen, e)
	wantEndpoint(h, got, &u)
	wantEndpoint(h, h.getEndpoint(e.ID), &u)

	_, err = h.s.UpdateEndpoint(h.ctx, "ep_missing", func(*store.Endpoint) (store.EndpointPatch, error) {
		h.Errorf("UpdateEndpoint(missing) called fn")
		return store.EndpointPatch{}, nil
	})
	wantErr(h, "UpdateEndpoint(missing)", err, store.ErrNotFound)
	if _, err := h.s.GetEndpoint(h.ctx, "ep_missing"); err == nil {
		h.Fatalf("UpdateEndpoint of a missing endpoint created it")
	}

	if err := h.s.DeleteEndpoint(h.ctx, e.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	_, err = h.s.GetEndpoint(h.ctx, e.ID)
	wantErr(h, "GetEndpoint after delete", err, store.ErrNotFound)
	wantErr(h, "DeleteEndpoint twice", h.s.DeleteEndpoint(h.ctx, e.ID), store.ErrNotFound)
}

func testEndpointSecrets(h *harness) {
	n := now()
	e := h.endpoint("", func(e *store.Endpoint) {
		e.Secrets = []store.Secret{
			{Value: "current", CreatedAt: n},
			{Value: "rotated-out", CreatedAt: n.Add(-48 * time.Hour), ExpiresAt: new(n.Add(-time.Minute))},
			{Value: "grace", CreatedAt: n.Add(-24 * time.Hour), ExpiresAt: new(n.Add(time.Hour))},
		}
	})
	secretValues := func(ss []store.Secret) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.Value)
		}
		return out
	}
	// Expired secrets are dropped on read; the others keep their order.
	h.wantIDs("GetEndpoint secrets", secretValues(h.getEndpoint(e.ID).Secrets), []string{"current", "grace"})
	list, _, err := h.s.ListEndpoints(h.ctx, store.EndpointFilter{})
	if err != nil || len(list) != 1 {
		h.Fatalf("ListEndpoints = %d endpoints, %v", len(list), err)
	}
	h.wantIDs("ListEndpoints secrets", secretValues(list[0].Secrets), []string{"current", "grace"})

	// A job's endpoint drops the secrets expired at the claim's Now.
	h.event1("", "user.created", n)
	jobs := h.claim(n.Add(30*time.Minute), 10)
	if len(jobs) != 1 {
		h.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	h.wantIDs("job secrets", secretValues(jobs[0].Endpoint.Secrets), []string{"current", "grace"})
	h.succeed(n, jobs...)
	h.event1("", "user.created", n)
	jobs = h.claim(n.Add(2*time.Hour), 10)
	if len(jobs) != 1 {
		h.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	h.wantIDs("job secrets after the grace period", secretValues(jobs[0].Endpoint.Secrets), []string{"current"})
	if jobs[0].Endpoint.Secrets[0].Value != "current" || !jobs[0].Endpoint.Secrets[0].CreatedAt.Equal(n) {
		h.Fatalf("job secret = %+v", jobs[0].Endpoint.Secrets[0])
	}
}

func testListEndpoints(h *harness) {
	var acme, other []string
	for i := range 23 {
		acme = append(acme, h.endpoint("acme", nil).ID)
		if i%3 == 0 {
			other = append(other, h.endpoint("", nil).ID)
		}
	}
	for _, tc := range []struct {
		tenant    string
		max, want int
	}{{"acme", 100, 23}, {"acme", 23, 23}, {"acme", 5, 5}, {"", 100, 8}, {"nobody", 100, 0}} {
		if n, err := h.s.CountEndpoints(h.ctx, tc.tenant, tc.max); err != nil || n != tc.want {
			h.T.Errorf("CountEndpoints(%q, %d) = %d, %v; want %d", tc.tenant, tc.max, n, err, tc.want)
		}
	}
	all := append(slices.Clone(acme), other...)
	tenant := "acme"
	empty := ""
	for _, tc := range []struct {
		name    string
		tenant  *string
		tenants []string
		limit   int
		want    []string
	}{
		{"all", nil, nil, 5, all},
		{"acme", &tenant, nil, 10, acme},
		{"default tenant", &empty, nil, 3, other},
		{"default limit", nil, nil, 0, all},
		{"tenants acme and default", nil, []string{"acme", ""}, 7, all},
		{"tenants acme and none such", nil, []string{"nope", "acme"}, 0, acme},
		{"tenants none such", nil, []string{"nope"}, 0, nil},
		{"tenant and tenants", &empty, []string{"acme", ""}, 2, other},
	} {
		var got []string
		cursor := ""
		pages := 0
		for {
			page, next, err := h.s.ListEndpoints(h.ctx, store.EndpointFilter{Tenant: tc.tenant, Tenants: tc.tenants, Page: store.Page{Limit: tc.limit, Cursor: cursor}})
			if err != nil {
				h.Fatalf("%s: ListEndpoints: %v", tc.name, err)
			}
			pages++
			limit := tc.limit
			if limit == 0 {
				limit = 50
			}
			if len(page) > limit {
				h.Fatalf("%s: page of %d, limit %d", tc.name, len(page), limit)
			}
			for _, e := range page {
				if tc.tenant != nil && e.Tenant != *tc.tenant || tc.tenants != nil && !slices.Contains(tc.tenants, e.Tenant) {
					h.Fatalf("%s: endpoint of tenant %q listed", tc.name, e.Tenant)
				}
				if e.Tenant != "zzz" {
					got = append(got, e.ID)
				}
			}
			if next == "" {
				break
			}
			if pages > 100 {
				h.Fatalf("%s: pagination does not end", tc.name)
			}
			// Endpoints created between pages do not disturb the rest.
			h.endpoint("zzz", nil)
			cursor = next
		}
		if !slices.IsSortedFunc(got, func(a, b string) int { return -cmpString(a, b) }) || hasDup(got) {
			h.Fatalf("%s: not newest (highest id) first: %v", tc.name, got)
		}
		want := slices.Clone(tc.want)
		slices.Sort(want)
		slices.Sort(got)
		h.wantIDs(tc.name+": listed ids", got, want)
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func testFanOutFollowsEndpointChanges(h *harness) {
	// Fan-out must see endpoint writes at once, whatever an implementation
	// caches.
	_, ds := h.event("t", "a.b", t0)
	if len(ds) != 0 {
		h.Fatalf("deliveries without endpoints: %d", len(ds))
	}
	e := h.endpoint("t", func(e *store.Endpoint) { e.EventTypes = []string{"a.b"} })
	if _, ds = h.event("t", "a.b", t0); len(ds) != 1 || ds[0].EndpointID != e.ID {
		h.Fatalf("after create: %d deliveries", len(ds))
	}
	e.EventTypes = []string{"x.*"}
	h.update(e)
	if _, ds = h.event("t", "a.b", t0); len(ds) != 0 {
		h.Fatalf("after filter change: %d deliveries", len(ds))
	}
	if _, ds = h.event("t", "x.y", t0); len(ds) != 1 {
		h.Fatalf("after filter change, matching type: %d deliveries", len(ds))
	}
	e.Disabled, e.DisabledReason = true, "manual"
	h.update(e)
	if _, ds = h.event("t", "x.y", t0); len(ds) != 0 {
		h.Fatalf("disabled endpoint got %d deliveries", len(ds))
	}
	e.Disabled, e.DisabledReason = false, ""
	h.update(e)
	if _, ds = h.event("t", "x.y", t0); len(ds) != 1 {
		h.Fatalf("re-enabled endpoint got %d deliveries", len(ds))
	}
	if err := h.s.DeleteEndpoint(h.ctx, e.ID); err != nil {
		h.Fatalf("DeleteEndpoint: %v", err)
	}
	if _, ds = h.event("t", "x.y", t0); len(ds) != 0 {
		h.Fatalf("deleted endpoint got %d deliveries", len(ds))
	}
}

func hasDup(ids []string) bool {
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}
