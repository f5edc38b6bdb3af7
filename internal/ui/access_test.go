package ui

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestLimitedKeyCannotSignIn: a key bound to a tenant, or to scopes short
// of admin, would sign in as an admin of every tenant: it is refused.
func TestLimitedKeyCannotSignIn(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	acme := "acme"
	for _, k := range []struct {
		tenant *string
		scopes []string
	}{{&acme, []string{"admin"}}, {nil, []string{"endpoints:read"}}, {&acme, []string{"endpoints:read", "deliveries:read"}}} {
		key, sk := createAPIKey(t, b.st, b.clock.Now())
		// createAPIKey stores an admin key; store a limited one instead.
		lk := *sk
		lk.ID, lk.Hash, lk.Tenant, lk.Scopes = store.NewID("key"), hashKey(key+"x"), k.tenant, k.scopes
		if err := b.st.CreateAPIKey(context.Background(), &lk); err != nil {
			t.Fatal(err)
		}
		c := b.client()
		r := c.post("/ui/login", url.Values{"api_key": {key + "x"}}, "/ui/login")
		if r.status != http.StatusForbidden || !strings.Contains(r.body, "limited") {
			t.Errorf("sign-in with %v %v: %d\n%s", k.tenant, k.scopes, r.status, r.body)
		}
		if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
			t.Errorf("after a refused sign-in /ui/endpoints = %d", r.status)
		}
	}
}

// TestKeysAndAuditPages: the keys page shows tenant, scopes and last use;
// dashboard changes are in the audit log, shown to admins only.
func TestKeysAndAuditPages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	acme := "acme"
	_, sk := createAPIKey(t, b.st, b.clock.Now())
	lk := *sk
	lk.ID, lk.Name, lk.Hash, lk.Tenant, lk.Scopes = store.NewID("key"), "acme-ro", hashKey("other"), &acme, []string{"endpoints:read", "deliveries:read"}
	if err := b.st.CreateAPIKey(ctx, &lk); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.TouchAPIKey(ctx, lk.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	c := b.admin()
	r := c.get("/ui/keys")
	if r.status != 200 || !strings.Contains(r.body, "acme-ro") || !strings.Contains(r.body, "endpoints:read, deliveries:read") ||
		!strings.Contains(r.body, "every tenant") || !strings.Contains(r.body, b.clock.Now().UTC().Format("2006-01-02 15:04:05 UTC")) {
		t.Fatalf("keys page: %d\n%s", r.status, r.body)
	}

	// Changes through the dashboard are recorded, with the session's key.
	r = c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/hook"}, "tenant": {"acme"}, "scheme": {"standard"}, "enabled": {"1"}}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	page := strings.Split(r.location, "?")[0]
	id := strings.TrimPrefix(page, "/ui/endpoints/")
	if r := c.post(page+"/secret/reveal", nil, page); r.status != 200 {
		t.Fatalf("reveal: %d", r.status)
	}
	e, err := b.st.GetEndpoint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// A refused change is not.
	c.post("/ui/endpoints", url.Values{"url": {"ftp://x"}}, "/ui/endpoints/new")

	es, _, err := b.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range es {
		actions = append(actions, en.Action)
		if en.ActorKind != store.SessionAdmin || en.RemoteAddr != "127.0.0.1" {
			t.Errorf("entry %+v", en)
		}
	}
	if want := []string{"secret.reveal", "endpoint.create", "session.sign_in"}; !slices.Equal(actions, want) {
		t.Fatalf("actions %v, want %v", actions, want)
	}
	if es[0].Target != id || es[0].ActorID == "" || es[0].Tenant == nil || *es[0].Tenant != "acme" {
		t.Errorf("reveal entry %+v", es[0])
	}
	r = c.get("/ui/audit")
	if r.status != 200 || !strings.Contains(r.body, "secret.reveal") || strings.Contains(r.body, e.Secrets[0].Value) {
		t.Fatalf("audit page: %d\n%s", r.status, r.body)
	}

	// A portal session sees neither page, and its changes name its tenant.
	p := b.portal("acme")
	for _, path := range []string{"/ui/keys", "/ui/audit"} {
		if r := p.get(path); r.status != http.StatusNotFound {
			t.Errorf("portal GET %s = %d", path, r.status)
		}
	}
	if r := p.post(page+"/secret/reveal", nil, page); r.status != 200 {
		t.Fatalf("portal reveal: %d", r.status)
	}
	es, _, _ = b.st.ListAudit(ctx, store.AuditFilter{Tenant: &acme})
	if len(es) < 2 || es[0].Action != "secret.reveal" || es[0].ActorKind != store.SessionTenant || es[1].Action != "portal.open" {
		t.Errorf("portal entries %+v", es)
	}
}
