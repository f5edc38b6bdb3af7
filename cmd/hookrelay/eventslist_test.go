package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/client"
)

// TestEventsList: serve indexes the paths of HOOKRELAY_SEARCH_FIELDS (the
// env of --search-field), and `events list --payload` finds by them.
func TestEventsList(t *testing.T) {
	t.Parallel()
	svc := startServeEnv(t, map[string]string{"HOOKRELAY_SEARCH_FIELDS": "order.id,customer.email"})
	send := func(typ, payload string) client.Event {
		t.Helper()
		var ev client.Event
		out := svc.mustCLI(t, payload+"\n", "events", "send", "--type", typ, "--json")
		if err := json.Unmarshal([]byte(out), &ev); err != nil {
			t.Fatalf("events send: %v: %s", err, out)
		}
		return ev
	}
	a := send("order.paid", `{"order":{"id":123},"customer":{"email":"a@example.com"}}`)
	b := send("order.paid", `{"order":{"id":"123"}}`)
	c := send("invoice.paid", `{"order":{"id":123.0}}`)
	list := func(args ...string) []string {
		t.Helper()
		var page client.Page[client.Event]
		out := svc.mustCLI(t, "", append([]string{"events", "list", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(out), &page); err != nil {
			t.Fatalf("events list %v: %v: %s", args, err, out)
		}
		var ids []string
		for _, e := range page.Data {
			ids = append(ids, e.ID)
		}
		return ids
	}
	if got := list("--payload", "order.id=123"); strings.Join(got, ",") != c.ID+","+a.ID {
		t.Errorf("--payload order.id=123: %v, want %v", got, []string{c.ID, a.ID})
	}
	if got := list("--payload", `order.id="123"`); strings.Join(got, ",") != b.ID {
		t.Errorf(`--payload order.id="123": %v, want %v`, got, b.ID)
	}
	if got := list("--type", "order.*", "--payload", "customer.email=a@example.com"); strings.Join(got, ",") != a.ID {
		t.Errorf("--type order.* --payload customer.email: %v, want %v", got, a.ID)
	}
	if got := list("--type", "order.*"); strings.Join(got, ",") != b.ID+","+a.ID {
		t.Errorf("--type order.*: %v", got)
	}
	out := svc.mustCLI(t, "", "events", "list", "--payload", "order.id=123")
	if !strings.Contains(out, a.ID) || !strings.Contains(out, "order.paid") {
		t.Errorf("events list table: %s", out)
	}
	if _, errs, code := svc.cli(t, nil, "", "events", "list", "--payload", "order.total=5"); code == 0 || !strings.Contains(errs, "--search-field order.total") {
		t.Errorf("an undeclared path: exit %d: %s", code, errs)
	}
}
