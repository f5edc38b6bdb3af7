package api

import (
	"context"
	"net/http"
	"net/url"
	"testing"
)

func TestListEvents(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ep := tb.createEndpoint(t, map[string]any{"tenant": "acme"})
	e1 := tb.sendEvent(t, `{"type":"order.paid","tenant":"acme","payload":{"order":{"id":123}}}`)
	e2 := tb.sendEvent(t, `{"type":"order.paid","tenant":"globex","payload":{"order":{"id":123.0}}}`)
	e3 := tb.sendEvent(t, `{"type":"order.refunded","tenant":"acme","payload":{"order":{"id":"123"}}}`)
	e4 := tb.sendEvent(t, `{"type":"invoice.paid","tenant":"acme","payload":{"order":{"id":7}}}`)

	ids := func(key, query string) []string {
		t.Helper()
		var l list[eventJSON]
		must(t, tb.doKey(t, key, "GET", "/api/v1/events?"+query, nil), http.StatusOK).json(t, &l)
		out := []string{}
		for _, e := range l.Data {
			out = append(out, e.ID)
		}
		return out
	}
	want := func(what string, got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: %v, want %v", what, got, want)
			}
		}
	}
	want("all", ids(tb.key, ""), e4.ID, e3.ID, e2.ID, e1.ID)
	want("number", ids(tb.key, "payload.order.id=123"), e2.ID, e1.ID)
	want("quoted string", ids(tb.key, "payload.order.id="+url.QueryEscape(`"123"`)), e3.ID)
	want("prefix", ids(tb.key, "type=order.*"), e3.ID, e2.ID, e1.ID)
	want("tenant and type", ids(tb.key, "tenant=acme&type=order.paid"), e1.ID)
	want("endpoint", ids(tb.key, "endpoint_id="+ep.ID+"&payload.order.id=123"), e1.ID)
	want("pending", ids(tb.key, "tenant=acme&status=pending"), e4.ID, e3.ID, e1.ID)

	// A tenant key sees its tenant only, whatever it asks.
	k, key, err := NewAPIKey("acme", "", tb.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	acme := "acme"
	k.Tenant = &acme
	if err := tb.store.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	want("tenant key", ids(key, "payload.order.id=123"), e1.ID)
	want("tenant key asks another", ids(key, "tenant=globex"))

	// Deliveries by payload.
	var dl list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/deliveries?payload.order.id=123", nil), http.StatusOK).json(t, &dl)
	if len(dl.Data) != 1 || dl.Data[0].EventID != e1.ID {
		t.Fatalf("deliveries by payload: %+v", dl.Data)
	}

	wantError(t, tb.do(t, "GET", "/api/v1/events?payload.order.total=5", nil), http.StatusBadRequest, CodeInvalidRequest,
		"not searchable", "--search-field order.total")
	wantError(t, tb.do(t, "GET", "/api/v1/deliveries?payload.x=5", nil), http.StatusBadRequest, CodeInvalidRequest, "--search-field x")
	wantError(t, tb.do(t, "GET", "/api/v1/events?payload.order.id="+url.QueryEscape(`{"a":1}`), nil), http.StatusBadRequest, CodeInvalidRequest)
	wantError(t, tb.do(t, "GET", "/api/v1/events?cursor=bogus", nil), http.StatusBadRequest, CodeInvalidRequest)
	wantError(t, tb.do(t, "GET", "/api/v1/events?status=lost", nil), http.StatusBadRequest, CodeInvalidRequest)

	// Pages.
	var l list[eventJSON]
	must(t, tb.do(t, "GET", "/api/v1/events?limit=3", nil), http.StatusOK).json(t, &l)
	if len(l.Data) != 3 || l.NextCursor == "" {
		t.Fatalf("first page: %d events, next %q", len(l.Data), l.NextCursor)
	}
	want("second page", ids(tb.key, "limit=3&cursor="+url.QueryEscape(l.NextCursor)), e1.ID)
}
