package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

func TestEventTypePages(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	now := b.clock.Now()
	for _, et := range []*store.EventType{
		{Name: "invoice.paid", Description: "Paid <b>now</b>", Schema: []byte(`{"type":"object","required":["id"]}`), Example: []byte(`{"id":"in_1"}`), Enforce: true},
		{Name: "invoice.voided", Deprecated: true},
		{Name: "ping"},
	} {
		et.CreatedAt, et.UpdatedAt = now, now
		if err := b.st.CreateEventType(ctx, et); err != nil {
			t.Fatal(err)
		}
	}
	a := b.admin()
	r := a.get("/ui/event-types")
	if r.status != http.StatusOK {
		t.Fatalf("GET /ui/event-types: %d\n%s", r.status, r.body)
	}
	for _, want := range []string{"invoice.*", "invoice.paid", "invoice.voided", "deprecated", "enforced", "Without a group", "Paid &lt;b&gt;now&lt;/b&gt;"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("catalog page lacks %q", want)
		}
	}
	if r := a.get("/ui/event-types?prefix=invoice."); strings.Contains(r.body, ">ping<") || !strings.Contains(r.body, "invoice.paid") {
		t.Errorf("prefix filter: %s", r.body)
	}
	r = a.get("/ui/event-types/invoice.paid")
	if r.status != http.StatusOK || !strings.Contains(r.body, "&#34;required&#34;: [") || !strings.Contains(r.body, "enforced") {
		t.Errorf("event type page: %d\n%s", r.status, r.body)
	}
	if r := a.get("/ui/event-types/nope"); r.status != http.StatusNotFound {
		t.Errorf("unknown type: %d", r.status)
	}

	// The endpoint forms of the dashboard and the portal offer the
	// catalog's types and groups.
	b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "acme's")
	for who, c := range map[string]*client{"admin": a, "portal": b.portal("acme")} {
		r := c.get("/ui/endpoints/new")
		if r.status != http.StatusOK {
			t.Fatalf("%s: new endpoint form: %d", who, r.status)
		}
		for _, want := range []string{`list="catalog-types"`, `<option value="invoice.*">`, `<option value="invoice.paid">`, `<option value="ping">`} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s: the endpoint form lacks %s", who, want)
			}
		}
		if r := c.get("/ui/event-types"); r.status != http.StatusOK || !strings.Contains(r.body, "invoice.paid") {
			t.Errorf("%s: catalog page: %d", who, r.status)
		}
	}
}

// TestEndpointPageStats: the endpoint page shows the figures of the API's
// /stats for the last hour and day.
func TestEndpointPageStats(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint("", "http://127.0.0.1:9/hook", "stats")
	if _, _, err := b.st.CreateEvent(ctx, &store.Event{ID: store.NewID("evt"), Type: "a.b", Payload: []byte(`{}`), CreatedAt: b.clock.Now()}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	jobs, err := b.st.ClaimDueDeliveries(ctx, store.ClaimParams{Now: b.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	j := jobs[0]
	if _, err := b.st.CompleteAttempts(ctx, []store.AttemptResult{{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusSucceeded,
		Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: e.ID, EventID: j.Event.ID, Number: 1,
			StartedAt: b.clock.Now().Add(-time.Minute), Duration: 42 * time.Millisecond, StatusCode: 200, Trigger: "scheduled"}}}); err != nil {
		t.Fatal(err)
	}
	r := b.admin().get("/ui/endpoints/" + e.ID)
	if r.status != http.StatusOK {
		t.Fatalf("endpoint page: %d", r.status)
	}
	for _, want := range []string{`<th scope="row">hour</th><td>1</td><td>1</td><td>0</td><td>0</td><td>100.0%</td><td>42ms</td>`, `<th scope="row">day</th>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("endpoint page lacks %s", want)
		}
	}
}

// TestEventTypeWrites: an admin creates, edits, sends the example of and
// deletes a type through the dashboard, with the catalog's own errors
// shown, an audit entry for each change, and CSRF on each form; a portal
// session cannot write the catalog.
func TestEventTypeWrites(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	a := b.admin()

	// An invalid schema is refused with internal/catalog's reason.
	r := a.post("/ui/event-types", url.Values{"name": {"order.created"}, "schema": {`{"type":"objekt"}`}}, "/ui/event-types/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "JSON Schema") {
		t.Fatalf("invalid schema: %d\n%s", r.status, r.body)
	}
	if _, err := b.st.GetEventType(ctx, "order.created"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an invalid type was stored: %v", err)
	}
	// An example that breaks the schema too.
	r = a.post("/ui/event-types", url.Values{"name": {"order.created"}, "schema": {`{"type":"object","required":["id"]}`}, "example": {`{}`}}, "/ui/event-types/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Example payload does not match the schema") {
		t.Fatalf("example breaking the schema: %d\n%s", r.status, r.body)
	}
	r = a.post("/ui/event-types", url.Values{"name": {"order.created"}, "description": {"An order"}, "schema": {`{"type":"object","required":["id"]}`},
		"example": {`{"id":12345678901234567890}`}, "enforce": {"on"}}, "/ui/event-types/new")
	if r.status != http.StatusSeeOther || r.location != "/ui/event-types/order.created?flash=type_created" {
		t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
	}
	et, err := b.st.GetEventType(ctx, "order.created")
	if err != nil || !et.Enforce || string(et.Example) != `{"id":12345678901234567890}` || et.Description != "An order" {
		t.Fatalf("stored: %+v, %v", et, err)
	}
	// A second type of that name is a conflict, said in the form.
	r = a.post("/ui/event-types", url.Values{"name": {"order.created"}}, "/ui/event-types/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "exists already") {
		t.Fatalf("duplicate: %d", r.status)
	}

	// Edit: deprecate, clear the schema (so enforce must go too).
	r = a.post("/ui/event-types/order.created", url.Values{"description": {"An order"}, "example": {`{"id":1}`}, "enforce": {"on"}}, "/ui/event-types/order.created/edit")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Enforce needs a schema") {
		t.Fatalf("enforce without schema: %d\n%s", r.status, r.body)
	}
	r = a.post("/ui/event-types/order.created", url.Values{"description": {"Orders"}, "example": {`{"id":1}`}, "deprecated": {"on"}}, "/ui/event-types/order.created/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("update: %d\n%s", r.status, r.body)
	}
	if et, _ = b.st.GetEventType(ctx, "order.created"); !et.Deprecated || et.Schema != nil || et.Enforce || et.Description != "Orders" {
		t.Fatalf("updated: %+v", et)
	}

	// Send example: one delivery of the example, to the chosen endpoint.
	e := b.endpoint("acme", "http://127.0.0.1:9/hook", "acme's")
	if r := a.get("/ui/event-types/order.created"); !strings.Contains(r.body, `<option value="`+e.ID+`"`) {
		t.Fatalf("the type page offers no endpoint:\n%s", r.body)
	}
	r = a.post("/ui/event-types/order.created/send-example", url.Values{"endpoint_id": {e.ID}}, "/ui/event-types/order.created")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/deliveries/") {
		t.Fatalf("send example: %d %q\n%s", r.status, r.location, r.body)
	}
	did := strings.TrimPrefix(strings.Split(r.location, "?")[0], "/ui/deliveries/")
	d, err := b.st.GetDelivery(ctx, did)
	if err != nil || d.EndpointID != e.ID {
		t.Fatalf("delivery: %+v, %v", d, err)
	}
	ev, err := b.st.GetEvent(ctx, d.EventID)
	if err != nil || ev.Type != "order.created" || string(ev.Payload) != `{"id":1}` || ev.Tenant != "acme" {
		t.Fatalf("example event: %+v, %v", ev, err)
	}

	// The portal reads the catalog but cannot write it.
	p := b.portal("acme")
	token := p.csrf("/ui/endpoints")
	for _, path := range []string{"/ui/event-types", "/ui/event-types/order.created", "/ui/event-types/order.created/delete", "/ui/event-types/order.created/send-example"} {
		if r := p.do("POST", path, url.Values{"csrf": {token}, "name": {"x.y"}, "endpoint_id": {e.ID}}); r.status != http.StatusNotFound {
			t.Errorf("portal POST %s: %d", path, r.status)
		}
	}
	for _, path := range []string{"/ui/event-types/new", "/ui/event-types/order.created/edit", "/ui/event-types/order.created/delete"} {
		if r := p.get(path); r.status != http.StatusNotFound {
			t.Errorf("portal GET %s: %d", path, r.status)
		}
	}
	if r := p.get("/ui/event-types/order.created"); strings.Contains(r.body, "send-example") || strings.Contains(r.body, "/edit") {
		t.Errorf("the portal is offered catalog writes:\n%s", r.body)
	}
	// Without the CSRF token, nothing is written.
	if r := a.do("POST", "/ui/event-types/order.created/delete", url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", r.status)
	}
	if _, err := b.st.GetEventType(ctx, "order.created"); err != nil {
		t.Fatalf("deleted without CSRF: %v", err)
	}

	r = a.post("/ui/event-types/order.created/delete", nil, "/ui/event-types/order.created/delete")
	if r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if _, err := b.st.GetEventType(ctx, "order.created"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}

	es, _, err := b.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range es {
		if strings.HasPrefix(e.Action, "event_type.") {
			got[e.Action] = e.Target
		}
	}
	want := map[string]string{"event_type.create": "", "event_type.update": "order.created", "event_type.send_example": "order.created", "event_type.delete": "order.created"}
	if len(got) != len(want) {
		t.Errorf("audit: %v, want %v", got, want)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("audit %s: %q (%v), want %q", k, g, ok, v)
		}
	}
}

// TestErasePayload: the delivery page's "Erase payload" erases the
// event's payload as the API does, is audited, needs CSRF, is for admins
// only, and the page then says the payload is erased.
func TestErasePayload(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	b.endpoint("acme", "http://127.0.0.1:9/hook", "acme's")
	ds := b.deliver("acme", 200, "ok", store.StatusSucceeded)
	d := ds[0]
	page := "/ui/deliveries/" + d.ID
	a := b.admin()
	if r := a.get(page); !strings.Contains(r.body, `id="erase-payload"`) {
		t.Fatalf("the delivery page offers no erase:\n%s", r.body)
	}
	p := b.portal("acme")
	if r := p.get(page); r.status != http.StatusOK || strings.Contains(r.body, `id="erase-payload"`) {
		t.Errorf("portal delivery page: %d, offers erase: %v", r.status, strings.Contains(r.body, "erase-payload"))
	}
	if r := p.post("/ui/events/"+d.EventID+"/erase", url.Values{"delivery_id": {d.ID}}, page); r.status != http.StatusNotFound {
		t.Errorf("portal erase: %d", r.status)
	}
	if r := a.do("POST", "/ui/events/"+d.EventID+"/erase", url.Values{"csrf": {"forged"}}); r.status != http.StatusForbidden {
		t.Errorf("erase without CSRF: %d", r.status)
	}
	if ev, _ := b.st.GetEvent(ctx, d.EventID); ev.ErasedAt != nil {
		t.Fatal("erased without admin and CSRF")
	}
	r := a.post("/ui/events/"+d.EventID+"/erase", url.Values{"delivery_id": {d.ID}}, page)
	if r.status != http.StatusSeeOther || r.location != page+"?flash=erased" {
		t.Fatalf("erase: %d %q\n%s", r.status, r.location, r.body)
	}
	ev, err := b.st.GetEvent(ctx, d.EventID)
	if err != nil || ev.ErasedAt == nil || len(ev.Payload) != 0 {
		t.Fatalf("after erase: %+v, %v", ev, err)
	}
	if r := a.get(r.location); !strings.Contains(r.body, `id="payload-erased"`) || strings.Contains(r.body, `id="erase-payload"`) {
		t.Errorf("the page after erase:\n%s", r.body)
	}
	es, _, _ := b.st.ListAudit(ctx, store.AuditFilter{})
	var found bool
	for _, e := range es {
		if e.Action == "event.erase" && e.Target == d.EventID && e.Tenant != nil && *e.Tenant == "acme" {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit entry event.erase for %s in %d entries", d.EventID, len(es))
	}
}
