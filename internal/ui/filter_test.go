package ui

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

func TestEndpointFilterForm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	ctx := context.Background()
	const filter = `{"amount": {"$gt": 12345678901234567890}}`

	// The "test filter" check answers on the form, saving nothing.
	form := url.Values{"url": {"http://127.0.0.1:9/hook"}, "scheme": {"standard"}, "enabled": {"1"},
		"filter": {filter}, "test_payload": {`{"amount": 12345678901234567891}`}, "action": {"test-filter"}}
	r := c.post("/ui/endpoints", form, "/ui/endpoints/new")
	if r.status != http.StatusOK || !strings.Contains(r.body, "The payload matches the filter") {
		t.Fatalf("test filter: %d\n%s", r.status, r.body)
	}
	if eps, _, _ := b.st.ListEndpoints(ctx, storeAll()); len(eps) != 0 {
		t.Fatalf("the check created %d endpoints", len(eps))
	}
	form.Set("test_payload", `{"amount": 12345678901234567890}`)
	if r = c.post("/ui/endpoints", form, "/ui/endpoints/new"); !strings.Contains(r.body, "does not match") {
		t.Fatalf("test filter, no match: %d\n%s", r.status, r.body)
	}
	// A fault is shown with its path.
	form.Set("filter", `{"amount": {"$gt": []}}`)
	if r = c.post("/ui/endpoints", form, "/ui/endpoints/new"); r.status != http.StatusUnprocessableEntity ||
		!strings.Contains(html.UnescapeString(r.body), "Payload filter is invalid at $.amount.$gt") {
		t.Fatalf("invalid filter check: %d\n%s", r.status, r.body)
	}
	form.Del("action")
	if r = c.post("/ui/endpoints", form, "/ui/endpoints/new"); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid filter saved: %d", r.status)
	}

	// Saving keeps the filter as typed; the page and the form show it.
	form.Set("filter", filter)
	r = c.post("/ui/endpoints", form, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	page := strings.Split(r.location, "?")[0]
	id := strings.TrimPrefix(page, "/ui/endpoints/")
	e, err := b.st.GetEndpoint(ctx, id)
	if err != nil || string(e.Filter) != filter {
		t.Fatalf("stored filter %q, %v", e.Filter, err)
	}
	if r = c.get(page); !strings.Contains(html.UnescapeString(r.body), filter) {
		t.Fatalf("endpoint page does not show the filter")
	}
	// Editing other fields keeps it; emptying the field removes it.
	edit := formOf(e)
	edit.Set("description", "renamed")
	if r = c.post(page, edit, page+"/edit"); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	if e, _ = b.st.GetEndpoint(ctx, id); string(e.Filter) != filter || e.Description != "renamed" {
		t.Fatalf("after edit: filter %q, description %q", e.Filter, e.Description)
	}
	edit.Set("filter", "")
	if r = c.post(page, edit, page+"/edit"); r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	if e, _ = b.st.GetEndpoint(ctx, id); e.Filter != nil {
		t.Fatalf("filter not removed: %q", e.Filter)
	}
	// The portal's form has the check too.
	p := b.portal("acme")
	r = p.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/hook"}, "filter": {`{"a": 1}`},
		"test_payload": {`{"a": 1.0}`}, "action": {"test-filter"}}, "/ui/endpoints/new")
	if r.status != http.StatusOK || !strings.Contains(r.body, "The payload matches the filter") {
		t.Fatalf("portal test filter: %d\n%s", r.status, r.body)
	}
}

// storeAll lists every endpoint.
func storeAll() store.EndpointFilter { return store.EndpointFilter{Page: store.Page{Limit: 1000}} }

// formOf is the edit form of e as the page fills it.
func formOf(e *store.Endpoint) url.Values {
	f := formFromEndpoint(e)
	v := url.Values{"url": {f.URL}, "description": {f.Description}, "scheme": {f.Scheme},
		"custom_scheme": {f.CustomScheme}, "event_types": {f.EventTypes}, "filter": {f.Filter}, "rate_limit": {f.RateLimit}}
	if f.Enabled {
		v.Set("enabled", "1")
	}
	if f.FIFO {
		v.Set("fifo", "1")
	}
	return v
}
