package rules_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

func TestCheckFilter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text, want, reason string
	}{
		{text: ``, want: ``},
		{text: ` null `, want: ``},
		{text: `{ }`, want: ``},
		{text: ` {"a": 1} `, want: `{"a": 1}`},
		{text: `{"data": {"$gt": true}}`, reason: "is invalid at $.data.$gt: must be a number or a string"},
		{text: `[1]`, reason: "is invalid at $: must be a JSON object"},
	} {
		got, err := rules.CheckFilter([]byte(tc.text))
		if tc.reason != "" {
			fs := rules.Fields(err)
			if len(fs) != 1 || fs[0].Field != "filter" || fs[0].Reason != tc.reason {
				t.Errorf("CheckFilter(%s) = %v, want filter %s", tc.text, err, tc.reason)
			}
			continue
		}
		if err != nil || string(got) != tc.want || (tc.want == "" && got != nil) {
			t.Errorf("CheckFilter(%s) = %q, %v; want %q", tc.text, got, err, tc.want)
		}
	}
}

func TestEndpointFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	_, _, err := b.rules.CreateEndpoint(ctx, rules.EndpointSpec{URL: "http://127.0.0.1:9/", Filter: []byte(`{"a": {"$in": 1}}`)})
	if fs := rules.Fields(err); len(fs) != 1 || fs[0].Field != "filter" || !strings.Contains(fs[0].Reason, "$.a.$in") {
		t.Fatalf("invalid filter on create: %v", err)
	}
	e := b.endpoint(t, rules.EndpointSpec{Filter: []byte(`{"amount": {"$gte": 100}}`)})
	if string(e.Filter) != `{"amount": {"$gte": 100}}` {
		t.Fatalf("Filter = %q", e.Filter)
	}
	for payload, want := range map[string]bool{`{"amount": 100.0}`: true, `{"amount": 99.999999999999999999}`: false} {
		got, err := b.rules.TestFilter(ctx, e.ID, nil, []byte(payload), nil)
		if err != nil || got != want {
			t.Errorf("TestFilter(%s) = %v, %v; want %v", payload, got, err, want)
		}
	}
	// A filter to try, before saving it.
	if got, err := b.rules.TestFilter(ctx, e.ID, nil, []byte(`{"amount": 1}`), []byte(`{"amount": 1}`)); err != nil || !got {
		t.Errorf("TestFilter with a filter = %v, %v", got, err)
	}
	_, err = b.rules.TestFilter(ctx, e.ID, nil, []byte(`nope`), []byte(`{"$or": 1}`))
	if got := strings.Join(fields(err), ","); got != "filter,payload" {
		t.Errorf("TestFilter errors %q (%v)", got, err)
	}
	other := "other"
	if _, err := b.rules.TestFilter(ctx, e.ID, &other, []byte(`{}`), nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TestFilter of another tenant's endpoint: %v", err)
	}

	// Changing and removing it.
	bad := []byte(`{"amount": {"$gte": 100, "x": 1}}`)
	if _, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Filter: &bad}, nil); len(rules.Fields(err)) != 1 {
		t.Fatalf("invalid filter on update: %v", err)
	}
	empty := []byte(`{}`)
	e, _, err = b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Filter: &empty}, nil)
	if err != nil || e.Filter != nil {
		t.Fatalf("removing the filter: %q, %v", e.Filter, err)
	}
	if got, err := b.rules.TestFilter(ctx, e.ID, nil, []byte(`{"amount": 1}`), nil); err != nil || !got {
		t.Errorf("TestFilter without a filter = %v, %v", got, err)
	}
}
