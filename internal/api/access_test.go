package api

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
)

// routeScopes is the scope every route needs: the table the tests below
// walk the router with. A route missing from it fails
// TestRouteScopeTable. body is a request body that gets past decoding for
// a caller that holds the scope. Scope noKey: no key needed (the OpenAPI
// document, like /healthz outside the API), and no x-scope documented.
var routeScopes = []struct {
	method, path string
	scope        access.Scope
	body         any
}{
	{"POST", "/api/v1/endpoints", access.EndpointsWrite, map[string]any{"url": "http://127.0.0.1:9/hook"}},
	{"GET", "/api/v1/endpoints", access.EndpointsRead, nil},
	{"GET", "/api/v1/endpoints/{id}", access.EndpointsRead, nil},
	{"PATCH", "/api/v1/endpoints/{id}", access.EndpointsWrite, map[string]any{}},
	{"DELETE", "/api/v1/endpoints/{id}", access.EndpointsWrite, nil},
	{"POST", "/api/v1/endpoints/{id}/rotate-secret", access.EndpointsWrite, nil},
	{"POST", "/api/v1/endpoints/{id}/test-filter", access.EndpointsRead, map[string]any{"payload": map[string]any{}}},
	{"POST", "/api/v1/endpoints/{id}/secret/reveal", access.SecretsRead, nil},
	{"GET", "/api/v1/endpoints/{id}/deliveries", access.DeliveriesRead, nil},
	{"POST", "/api/v1/endpoints/{id}/replay", access.DeliveriesWrite, map[string]any{"since": "2026-01-01T00:00:00Z"}},
	{"POST", "/api/v1/endpoints/{id}/replay-missing", access.DeliveriesWrite, map[string]any{"since": "2026-01-01T00:00:00Z"}},
	{"GET", "/api/v1/endpoints/{id}/stats", access.DeliveriesRead, nil},
	{"POST", "/api/v1/replays", access.DeliveriesWrite, map[string]any{"kind": "failed", "since": "2026-01-01T00:00:00Z"}},
	{"GET", "/api/v1/replays", access.DeliveriesRead, nil},
	{"GET", "/api/v1/replays/{id}", access.DeliveriesRead, nil},
	{"POST", "/api/v1/replays/{id}/cancel", access.DeliveriesWrite, nil},
	{"POST", "/api/v1/events", access.EventsWrite, map[string]any{"type": "a.b", "payload": map[string]any{}}},
	{"POST", "/api/v1/events/batch", access.EventsWrite, map[string]any{"events": []any{map[string]any{"type": "a.b", "payload": map[string]any{}}}}},
	{"GET", "/api/v1/events", access.DeliveriesRead, nil},
	{"GET", "/api/v1/events/{id}", access.DeliveriesRead, nil},
	{"GET", "/api/v1/events/{id}/deliveries", access.DeliveriesRead, nil},
	{"DELETE", "/api/v1/events/{id}/payload", access.DeliveriesWrite, nil},
	{"GET", "/api/v1/deliveries", access.DeliveriesRead, nil},
	{"GET", "/api/v1/deliveries/{id}", access.DeliveriesRead, nil},
	{"POST", "/api/v1/deliveries/{id}/retry", access.DeliveriesWrite, nil},
	{"POST", "/api/v1/keys", access.KeysWrite, map[string]any{"scopes": []string{"keys:write"}}},
	{"GET", "/api/v1/keys", access.KeysWrite, nil},
	{"DELETE", "/api/v1/keys/{id}", access.KeysWrite, nil},
	{"POST", "/api/v1/portal-links", access.KeysWrite, map[string]any{"tenant": "acme"}},
	{"POST", "/api/v1/tenant-tokens", access.KeysWrite, map[string]any{"tenant": "acme", "scopes": []string{"keys:write"}}},
	{"GET", "/api/v1/audit", access.Admin, nil},
	{"POST", "/api/v1/sources", access.SourcesWrite, map[string]any{}},
	{"GET", "/api/v1/sources", access.SourcesRead, nil},
	{"GET", "/api/v1/sources/{id}", access.SourcesRead, nil},
	{"PATCH", "/api/v1/sources/{id}", access.SourcesWrite, map[string]any{}},
	{"DELETE", "/api/v1/sources/{id}", access.SourcesWrite, nil},
	{"POST", "/api/v1/sources/{id}/destinations", access.SourcesWrite, map[string]any{}},
	{"GET", "/api/v1/sources/{id}/rejections", access.SourcesRead, nil},
	{"GET", "/api/v1/openapi.yaml", noKey, nil},
	{"POST", "/api/v1/event-types", access.EventTypesWrite, map[string]any{"name": "a.b"}},
	{"GET", "/api/v1/event-types", access.EndpointsRead, nil},
	{"GET", "/api/v1/event-types/{name}", access.EndpointsRead, nil},
	{"PATCH", "/api/v1/event-types/{name}", access.EventTypesWrite, map[string]any{}},
	{"DELETE", "/api/v1/event-types/{name}", access.EventTypesWrite, nil},
	{"POST", "/api/v1/event-types/{name}/send-example", access.EventTypesWrite, map[string]any{}},
}

var testTokenKey = []byte("0123456789abcdef0123456789abcdef")

// setupAccess is setup with tenant tokens enabled.
func setupAccess(t *testing.T) *testBundle {
	return setup(t, func(c *Config) { c.TokenKey = testTokenKey })
}

// newKey stores a key bound to tenant (nil: every tenant) with scopes and
// returns it and its id.
func (tb *testBundle) newKey(t *testing.T, tenant *string, scopes ...access.Scope) (string, string) {
	t.Helper()
	k, key, err := NewAPIKey("t", "", tb.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.Tenant, k.Scopes = tenant, access.Names(scopes)
	if err := tb.store.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return key, k.ID
}

// errScope returns the scope an error response names.
func (r *response) errScope(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct{ Scope string } `json:"error"`
	}
	r.json(t, &e)
	return e.Error.Scope
}

// TestRouteScopeTable walks the router: every route it serves is in
// routeScopes with the scope it enforces, and docs/openapi.yaml names the
// same scope in its x-scope.
func TestRouteScopeTable(t *testing.T) {
	t.Parallel()
	a, err := New(Config{Store: nopStore{}})
	if err != nil {
		t.Fatal(err)
	}
	table := map[string]access.Scope{}
	for _, row := range routeScopes {
		table[row.method+" "+row.path] = row.scope
	}
	served := map[string]bool{}
	for _, rt := range a.routes {
		r := rt.method + " " + rt.path
		served[r] = true
		want, ok := table[r]
		switch {
		case !ok:
			t.Errorf("%s is served but missing from routeScopes", r)
		case want != rt.scope:
			t.Errorf("%s needs %q, routeScopes says %q", r, rt.scope, want)
		}
	}
	for r := range table {
		if !served[r] {
			t.Errorf("%s is in routeScopes but not served", r)
		}
	}
	documented := openAPIScopes(t, "../../docs/openapi.yaml")
	for r, s := range table {
		if documented[r] != string(s) {
			t.Errorf("docs/openapi.yaml gives %s x-scope %q, want %q", r, documented[r], s)
		}
	}
}

// openAPIScopes reads the x-scope of every operation of an OpenAPI file,
// laid out as openAPIRoutes expects.
func openAPIScopes(t *testing.T, file string) map[string]string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	path, op := "", ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "  "); ok && strings.HasPrefix(k, "/") {
			path = strings.TrimSuffix(k, ":")
		} else if k, ok := strings.CutPrefix(line, "    "); ok && !strings.HasPrefix(k, " ") {
			op = strings.ToUpper(strings.TrimSuffix(k, ":")) + " " + path
		} else if v, ok := strings.CutPrefix(line, "      x-scope: "); ok {
			out[op] = strings.Trim(v, "'")
		}
	}
	return out
}

// TestEveryRouteChecksItsScope calls every route of the table with a key
// holding every scope but the one it needs (403 naming it) and with a key
// holding only that scope, and with an admin key (anything but a 403 for
// it). A noKey route answers 200 without a key and with a key of no
// scope.
func TestEveryRouteChecksItsScope(t *testing.T) {
	t.Parallel()
	tb := setupAccess(t)
	for _, row := range routeScopes {
		t.Run(row.method+" "+row.path, func(t *testing.T) {
			if row.scope == noKey {
				none, _ := tb.newKey(t, nil)
				for _, key := range []string{"", none} {
					if r := tb.doKey(t, key, row.method, row.path, row.body); r.status != http.StatusOK {
						t.Errorf("key %q: status %d: %s", key, r.status, r.body)
					}
				}
				return
			}
			var others []access.Scope
			for _, s := range access.Scopes {
				if s != row.scope && s != access.Admin {
					others = append(others, s)
				}
			}
			path := strings.ReplaceAll(row.path, "{id}", "x_missing")
			without, _ := tb.newKey(t, nil, others...)
			r := tb.doKey(t, without, row.method, path, row.body)
			wantError(t, r, http.StatusForbidden, CodeForbidden, string(row.scope))
			if got := r.errScope(t); got != string(row.scope) {
				t.Errorf("error.scope = %q, want %q", got, row.scope)
			}
			with, _ := tb.newKey(t, nil, row.scope)
			// A route that mints may refuse what its body asks for (a
			// portal link needs every portal scope), never the route.
			if r := tb.doKey(t, with, row.method, path, row.body); r.status == http.StatusUnauthorized ||
				r.status == http.StatusForbidden && r.errScope(t) == string(row.scope) {
				t.Errorf("with scope %s: status %d: %s", row.scope, r.status, r.body)
			}
			admin, _ := tb.newKey(t, nil, access.Admin)
			if r := tb.doKey(t, admin, row.method, path, row.body); r.status == http.StatusForbidden || r.status == http.StatusUnauthorized {
				t.Errorf("with admin: status %d: %s", r.status, r.body)
			}
		})
	}
}

// tenantWorld is two tenants' endpoints, events and deliveries, made by
// the admin key.
type tenantWorld struct {
	tb                    *testBundle
	acmeEP, globexEP      endpointJSON
	acmeEvent, globexEvt  eventJSON
	acmeDelivery, globexD string
}

func newTenantWorld(t *testing.T) *tenantWorld {
	tb := setupAccess(t)
	w := &tenantWorld{tb: tb}
	w.acmeEP = tb.createEndpoint(t, map[string]any{"tenant": "acme"})
	w.globexEP = tb.createEndpoint(t, map[string]any{"tenant": "globex"})
	w.acmeEvent = tb.sendEvent(t, `{"type":"a.b","tenant":"acme","payload":{}}`)
	w.globexEvt = tb.sendEvent(t, `{"type":"a.b","tenant":"globex","payload":{}}`)
	var ds list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/deliveries", nil), 200).json(t, &ds)
	for _, d := range ds.Data {
		switch d.Tenant {
		case "acme":
			w.acmeDelivery = d.ID
		case "globex":
			w.globexD = d.ID
		}
	}
	if w.acmeDelivery == "" || w.globexD == "" {
		t.Fatalf("deliveries = %+v", ds.Data)
	}
	return w
}

// TestTenantIsolation: a key bound to acme, even an admin one, finds
// globex's resources absent, lists only acme's, creates only in acme and
// cannot reach sources.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	tb := w.tb
	acme := "acme"
	key, _ := tb.newKey(t, &acme, access.Admin)

	// Another tenant's resources are not found, exactly as unknown ids.
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/v1/endpoints/" + w.globexEP.ID},
		{"PATCH", "/api/v1/endpoints/" + w.globexEP.ID},
		{"DELETE", "/api/v1/endpoints/" + w.globexEP.ID},
		{"POST", "/api/v1/endpoints/" + w.globexEP.ID + "/rotate-secret"},
		{"POST", "/api/v1/endpoints/" + w.globexEP.ID + "/secret/reveal"},
		{"GET", "/api/v1/endpoints/" + w.globexEP.ID + "/deliveries"},
		{"POST", "/api/v1/endpoints/" + w.globexEP.ID + "/replay"},
		{"GET", "/api/v1/events/" + w.globexEvt.ID},
		{"GET", "/api/v1/events/" + w.globexEvt.ID + "/deliveries"},
		{"DELETE", "/api/v1/events/" + w.globexEvt.ID + "/payload"},
		{"GET", "/api/v1/deliveries/" + w.globexD},
		{"POST", "/api/v1/deliveries/" + w.globexD + "/retry"},
	} {
		var body any
		switch {
		case c.method == "PATCH":
			body = map[string]any{"description": "x"}
		case strings.HasSuffix(c.path, "/replay"):
			body = map[string]any{"since": "2026-01-01T00:00:00Z"}
		}
		r := tb.doKey(t, key, c.method, c.path, body)
		wantError(t, r, http.StatusNotFound, CodeNotFound)
		missing := tb.doKey(t, key, c.method, strings.Replace(strings.Replace(c.path, w.globexEP.ID, "x_1", 1), w.globexD, "x_1", 1), body)
		if c.path != strings.Replace(c.path, w.globexEvt.ID, "", 1) {
			missing = tb.doKey(t, key, c.method, strings.Replace(c.path, w.globexEvt.ID, "x_1", 1), body)
		}
		if missing.status != r.status {
			t.Errorf("%s %s: %d, an unknown id %d", c.method, c.path, r.status, missing.status)
		}
	}
	// Its own are found.
	must(t, tb.doKey(t, key, "GET", "/api/v1/endpoints/"+w.acmeEP.ID, nil), 200)
	must(t, tb.doKey(t, key, "GET", "/api/v1/events/"+w.acmeEvent.ID, nil), 200)
	must(t, tb.doKey(t, key, "GET", "/api/v1/deliveries/"+w.acmeDelivery, nil), 200)

	// Lists hold only acme's, whatever the query asks.
	for _, path := range []string{"/api/v1/endpoints", "/api/v1/endpoints?tenant=globex", "/api/v1/deliveries",
		"/api/v1/deliveries?tenant=globex", "/api/v1/deliveries?endpoint_id=" + w.globexEP.ID} {
		var l list[struct{ Tenant string }]
		must(t, tb.doKey(t, key, "GET", path, nil), 200).json(t, &l)
		for _, x := range l.Data {
			if x.Tenant != "acme" {
				t.Errorf("%s lists tenant %q", path, x.Tenant)
			}
		}
		if strings.Contains(path, "globex") && len(l.Data) != 0 {
			t.Errorf("%s lists %d", path, len(l.Data))
		}
		if path == "/api/v1/endpoints" && len(l.Data) != 1 {
			t.Errorf("%s lists %d, want acme's 1", path, len(l.Data))
		}
	}

	// What it creates belongs to acme; naming another tenant is refused.
	var ep endpointJSON
	must(t, tb.doKey(t, key, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/h"}), 201).json(t, &ep)
	if ep.Tenant != "acme" {
		t.Errorf("endpoint created in tenant %q", ep.Tenant)
	}
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/h", "tenant": "globex"}),
		http.StatusForbidden, CodeForbidden, "globex")
	wantError(t, tb.doKey(t, key, "PATCH", "/api/v1/endpoints/"+w.acmeEP.ID, map[string]any{"tenant": "globex"}),
		http.StatusForbidden, CodeForbidden)
	var ev eventJSON
	must(t, tb.doKey(t, key, "POST", "/api/v1/events", `{"type":"a.b","payload":{}}`), 202).json(t, &ev)
	if ev.Tenant != "acme" {
		t.Errorf("event sent in tenant %q", ev.Tenant)
	}
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/events", `{"type":"a.b","tenant":"globex","payload":{}}`),
		http.StatusForbidden, CodeForbidden)

	// Sources belong to no tenant.
	wantError(t, tb.doKey(t, key, "GET", "/api/v1/sources", nil), http.StatusForbidden, CodeForbidden, "sources")

	// Keys: only acme's are listed and revocable; minting stays in acme.
	var ks list[keyJSON]
	must(t, tb.doKey(t, key, "GET", "/api/v1/keys", nil), 200).json(t, &ks)
	for _, k := range ks.Data {
		if k.Tenant == nil || *k.Tenant != "acme" {
			t.Errorf("acme's key lists key %s of tenant %v", k.ID, k.Tenant)
		}
	}
	adminKey, err := tb.store.APIKeyByHash(context.Background(), HashKey(tb.key))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, tb.doKey(t, key, "DELETE", "/api/v1/keys/"+adminKey.ID, nil), http.StatusNotFound, CodeNotFound)
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{"tenant": "globex"}), http.StatusForbidden, CodeForbidden)
	var nk keyJSON
	must(t, tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{"scopes": []string{"endpoints:read"}}), 201).json(t, &nk)
	if nk.Tenant == nil || *nk.Tenant != "acme" || !slices.Equal(nk.Scopes, []string{"endpoints:read"}) || nk.Key == "" {
		t.Errorf("minted key = %+v", nk)
	}
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/tenant-tokens", map[string]any{"tenant": "globex"}), http.StatusForbidden, CodeForbidden)
}

// TestMintSubset: a key mints keys and tokens only with scopes it holds
// and revokes only keys it could have minted.
func TestMintSubset(t *testing.T) {
	t.Parallel()
	tb := setupAccess(t)
	acme := "acme"
	key, _ := tb.newKey(t, &acme, access.KeysWrite, access.EndpointsRead)
	r := tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{"scopes": []string{"endpoints:write"}})
	wantError(t, r, http.StatusForbidden, CodeForbidden, "endpoints:write")
	r = tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{})
	wantError(t, r, http.StatusForbidden, CodeForbidden, "admin")
	if got := r.errScope(t); got != "admin" {
		t.Errorf("scope %q, want admin", got)
	}
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{"scopes": []string{"bogus"}}), 422, CodeValidation, "bogus")
	must(t, tb.doKey(t, key, "POST", "/api/v1/keys", map[string]any{"scopes": []string{"endpoints:read", "keys:write"}}), 201)
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/tenant-tokens", map[string]any{"scopes": []string{"deliveries:read"}}),
		http.StatusForbidden, CodeForbidden, "deliveries:read")
	// A portal link opens the whole tenant portal: it needs every scope
	// of one.
	wantError(t, tb.doKey(t, key, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme"}), http.StatusForbidden, CodeForbidden)
	// An acme admin key it cannot revoke.
	_, adminID := tb.newKey(t, &acme, access.Admin)
	wantError(t, tb.doKey(t, key, "DELETE", "/api/v1/keys/"+adminID, nil), http.StatusForbidden, CodeForbidden, "admin")
	// Nor one whose stored scopes name one this version does not know
	// beside admin (as a newer version may write).
	k, _, err := NewAPIKey("t", "", tb.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	k.Tenant, k.Scopes = &acme, []string{"admin", "future:scope"}
	if err := tb.store.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	wantError(t, tb.doKey(t, key, "DELETE", "/api/v1/keys/"+k.ID, nil), http.StatusForbidden, CodeForbidden, "admin")
}

// TestTenantTokens: a token works as a key of its tenant and scopes until
// it expires, and until the key that minted it is revoked; a forged one
// never does.
func TestTenantTokens(t *testing.T) {
	t.Parallel()
	w := newTenantWorld(t)
	tb := w.tb
	minter, minterID := tb.newKey(t, nil, access.Admin)
	var tok tenantTokenJSON
	must(t, tb.doKey(t, minter, "POST", "/api/v1/tenant-tokens",
		map[string]any{"tenant": "acme", "scopes": []string{"endpoints:read"}, "ttl_seconds": 60}), 201).json(t, &tok)
	if !strings.HasPrefix(tok.Token, access.TokenPrefix) || tok.Tenant != "acme" ||
		!tok.ExpiresAt.Equal(tb.clock.Now().Add(time.Minute).Truncate(time.Second)) {
		t.Fatalf("token = %+v", tok)
	}
	var eps list[endpointJSON]
	must(t, tb.doKey(t, tok.Token, "GET", "/api/v1/endpoints", nil), 200).json(t, &eps)
	if len(eps.Data) != 1 || eps.Data[0].ID != w.acmeEP.ID {
		t.Errorf("token lists %+v, want acme's endpoint only", eps.Data)
	}
	wantError(t, tb.doKey(t, tok.Token, "GET", "/api/v1/endpoints/"+w.globexEP.ID, nil), 404, CodeNotFound)
	wantError(t, tb.doKey(t, tok.Token, "POST", "/api/v1/endpoints", map[string]any{"url": "http://127.0.0.1:9/h"}),
		http.StatusForbidden, CodeForbidden, "endpoints:write")

	// Forged: another payload under the same MAC, or a MAC of another key.
	payload, mac, _ := strings.Cut(strings.TrimPrefix(tok.Token, access.TokenPrefix), ".")
	other, _ := access.NewTokens([]byte("another key of thirty-two bytes!"))
	forged, _ := other.Mint(access.TokenClaims{KeyID: minterID, Tenant: "acme", Scopes: []access.Scope{access.Admin}, Expires: tok.ExpiresAt})
	for _, bad := range []string{access.TokenPrefix + payload + "x." + mac, access.TokenPrefix + payload + "." + mac[1:], forged} {
		wantError(t, tb.doKey(t, bad, "GET", "/api/v1/endpoints", nil), 401, CodeUnauthorized)
	}

	// A token cannot mint keys, nor tokens that outlive it.
	var admTok tenantTokenJSON
	must(t, tb.doKey(t, minter, "POST", "/api/v1/tenant-tokens", map[string]any{"tenant": "acme", "ttl_seconds": 60}), 201).json(t, &admTok)
	wantError(t, tb.doKey(t, admTok.Token, "POST", "/api/v1/keys", map[string]any{}), http.StatusForbidden, CodeForbidden)
	var child tenantTokenJSON
	must(t, tb.doKey(t, admTok.Token, "POST", "/api/v1/tenant-tokens", map[string]any{"ttl_seconds": 3600}), 201).json(t, &child)
	if child.ExpiresAt.After(admTok.ExpiresAt) || child.Tenant != "acme" {
		t.Errorf("child token %+v outlives its parent (%s)", child, admTok.ExpiresAt)
	}

	// Bounds.
	wantError(t, tb.doKey(t, minter, "POST", "/api/v1/tenant-tokens", map[string]any{"tenant": "acme", "ttl_seconds": 86401}), 422, CodeValidation)
	wantError(t, tb.doKey(t, minter, "POST", "/api/v1/tenant-tokens", map[string]any{"scopes": []string{"endpoints:read"}}), 422, CodeValidation, "tenant")

	// Expiry: 401 from its expiry on.
	tb.clock.Advance(time.Minute)
	wantError(t, tb.doKey(t, tok.Token, "GET", "/api/v1/endpoints", nil), 401, CodeUnauthorized)

	// Revoking the minting key revokes its tokens at once.
	var fresh tenantTokenJSON
	must(t, tb.doKey(t, minter, "POST", "/api/v1/tenant-tokens", map[string]any{"tenant": "acme", "scopes": []string{"endpoints:read"}}), 201).json(t, &fresh)
	must(t, tb.doKey(t, fresh.Token, "GET", "/api/v1/endpoints", nil), 200)
	must(t, tb.do(t, "DELETE", "/api/v1/keys/"+minterID, nil), 204)
	wantError(t, tb.doKey(t, fresh.Token, "GET", "/api/v1/endpoints", nil), 401, CodeUnauthorized)
}

// TestLastUsed: a key's use is recorded, at most once a minute.
func TestLastUsed(t *testing.T) {
	t.Parallel()
	tb := setupAccess(t)
	key, id := tb.newKey(t, nil, access.EndpointsRead)
	lastUsed := func() *time.Time {
		k, err := tb.store.GetAPIKey(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return k.LastUsedAt
	}
	if lastUsed() != nil {
		t.Fatal("a new key has a last use")
	}
	t0 := tb.clock.Now()
	must(t, tb.doKey(t, key, "GET", "/api/v1/endpoints", nil), 200)
	if got := lastUsed(); got == nil || !got.Equal(t0) {
		t.Fatalf("last used %v, want %s", got, t0)
	}
	tb.clock.Advance(30 * time.Second)
	must(t, tb.doKey(t, key, "GET", "/api/v1/endpoints", nil), 200)
	if got := lastUsed(); !got.Equal(t0) {
		t.Fatalf("last used %v after 30 s, want still %s", got, t0)
	}
	tb.clock.Advance(30 * time.Second)
	must(t, tb.doKey(t, key, "GET", "/api/v1/endpoints", nil), 200)
	if got := lastUsed(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("last used %v after a minute, want %s", got, t0.Add(time.Minute))
	}
	var ks list[keyJSON]
	must(t, tb.do(t, "GET", "/api/v1/keys", nil), 200).json(t, &ks)
	for _, k := range ks.Data {
		if k.ID == id && (k.LastUsedAt == nil || !k.LastUsedAt.Equal(t0.Add(time.Minute))) {
			t.Errorf("listed last_used_at = %v", k.LastUsedAt)
		}
	}
}

// TestAuditLog: changes are recorded with who, what, when and where, never
// with a secret; reads are not; a tenant key sees its tenant's entries.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	tb := setupAccess(t)
	adminKey, err := tb.store.APIKeyByHash(context.Background(), HashKey(tb.key))
	if err != nil {
		t.Fatal(err)
	}
	ep := tb.createEndpoint(t, map[string]any{"tenant": "acme", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	var reveal revealResponse
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/secret/reveal", nil), 200).json(t, &reveal)
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", nil), 200)
	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil), 200)
	var nk keyJSON
	must(t, tb.do(t, "POST", "/api/v1/keys", map[string]any{"name": "ci", "tenant": "acme", "scopes": []string{"admin"}}), 201).json(t, &nk)
	wantError(t, tb.do(t, "DELETE", "/api/v1/endpoints/x_missing", nil), 404, CodeNotFound)

	r := must(t, tb.do(t, "GET", "/api/v1/audit", nil), 200)
	for _, secret := range []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", reveal.Secrets[0].Secret, nk.Key} {
		if strings.Contains(string(r.body), secret) {
			t.Errorf("the audit log holds a secret: %s", r.body)
		}
	}
	var l list[auditJSON]
	r.json(t, &l)
	var actions []string
	for _, e := range l.Data {
		actions = append(actions, e.Action)
		if e.ActorKind != "key" || e.ActorID != adminKey.ID || e.RemoteAddr != "127.0.0.1" || !e.At.Equal(tb.clock.Now()) {
			t.Errorf("entry %+v", e)
		}
	}
	want := []string{"key.create", "secret.rotate", "secret.reveal", "endpoint.create"}
	if !slices.Equal(actions, want) {
		t.Errorf("actions %v, want %v", actions, want)
	}
	if l.Data[3].Target != ep.ID || l.Data[3].Tenant == nil || *l.Data[3].Tenant != "acme" {
		t.Errorf("endpoint.create entry = %+v", l.Data[3])
	}

	// A tenant admin sees its tenant's entries; another tenant's sees none.
	acmeLog := must(t, tb.doKey(t, nk.Key, "GET", "/api/v1/audit", nil), 200)
	acmeLog.json(t, &l)
	if len(l.Data) != 4 {
		t.Errorf("acme sees %d entries, want 4", len(l.Data))
	}
	globex := "globex"
	gk, _ := tb.newKey(t, &globex, access.Admin)
	must(t, tb.doKey(t, gk, "GET", "/api/v1/audit", nil), 200).json(t, &l)
	if len(l.Data) != 0 {
		t.Errorf("globex sees %d entries, want 0", len(l.Data))
	}
	must(t, tb.doKey(t, gk, "GET", "/api/v1/audit?tenant=acme", nil), 200).json(t, &l)
	if len(l.Data) != 0 {
		t.Errorf("globex sees %d of acme's entries, want 0", len(l.Data))
	}
}
