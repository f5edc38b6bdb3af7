package api

import (
	"net/http"
	"testing"
)

func TestEndpointFilter(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	// An invalid filter is a 422 naming the field and the path of the fault.
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints", map[string]any{
		"url": "http://127.0.0.1:9/hook", "filter": map[string]any{"data": map[string]any{"$gt": true}},
	}), http.StatusUnprocessableEntity, CodeValidation, "filter is invalid at $.data.$gt: must be a number or a string")

	ep := tb.createEndpoint(t, map[string]any{"filter": rawJSON(`{"amount": {"$gt": 12345678901234567890}}`)})
	if string(ep.Filter) != `{"amount":{"$gt":12345678901234567890}}` {
		t.Fatalf("filter in the create response: %s", ep.Filter)
	}
	var got endpointJSON
	must(t, tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil), http.StatusOK).json(t, &got)
	if string(got.Filter) != string(ep.Filter) {
		t.Fatalf("filter read back: %s", got.Filter)
	}

	test := func(body string) bool {
		t.Helper()
		var out testFilterResponse
		must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/test-filter", body), http.StatusOK).json(t, &out)
		return out.Matches
	}
	if !test(`{"payload": {"amount": 12345678901234567891}}`) {
		t.Error("a payload above the bound does not match")
	}
	if test(`{"payload": {"amount": 12345678901234567890.0}}`) {
		t.Error("a payload at the bound matches")
	}
	if !test(`{"payload": {"amount": 1}, "filter": {"amount": {"$in": [1, 2]}}}`) {
		t.Error("a filter to try does not match")
	}
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/test-filter", `{"payload": {}, "filter": {"$or": {}}}`),
		http.StatusUnprocessableEntity, CodeValidation, "$.$or")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/test-filter", `{}`),
		http.StatusUnprocessableEntity, CodeValidation, "payload")
	wantError(t, tb.do(t, "POST", "/api/v1/endpoints/ep_nope/test-filter", `{"payload": {}}`),
		http.StatusNotFound, CodeNotFound)

	// PATCH without filter keeps it; null removes it.
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"description": "x"}`), http.StatusOK).json(t, &got)
	if string(got.Filter) != string(ep.Filter) {
		t.Fatalf("a PATCH without filter changed it to %s", got.Filter)
	}
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, `{"filter": null}`), http.StatusOK).json(t, &got)
	if string(got.Filter) != "null" {
		t.Fatalf("filter after null: %s", got.Filter)
	}
	if !test(`{"payload": {"amount": 1}}`) {
		t.Error("an endpoint without a filter does not match")
	}
}

// rawJSON marshals as itself.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
