package store

import (
	"sort"
	"strings"
	"testing"
)

func TestAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		filter []string
		typ    string
		want   bool
	}{
		{nil, "invoice.paid", true},
		{[]string{"invoice.paid"}, "invoice.paid", true},
		{[]string{"invoice.paid"}, "invoice.created", false},
		{[]string{"invoice.*"}, "invoice.paid", true},
		{[]string{"invoice.*"}, "invoice.line.added", true},
		{[]string{"invoice.*"}, "invoices.paid", false},
		{[]string{"invoice.*"}, "invoice", false},
		{[]string{"*"}, "anything", true},
		{[]string{"a", "b"}, "b", true},
		{[]string{"inv*"}, "invoice.paid", false},
	}
	for _, tt := range tests {
		e := Endpoint{EventTypes: tt.filter}
		if got := e.Accepts(tt.typ); got != tt.want {
			t.Errorf("Endpoint{EventTypes: %q}.Accepts(%q) = %v, want %v", tt.filter, tt.typ, got, tt.want)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	ids := make([]string, 1000)
	seen := map[string]bool{}
	for i := range ids {
		ids[i] = NewID("evt")
		if seen[ids[i]] {
			t.Fatalf("duplicate id %s", ids[i])
		}
		seen[ids[i]] = true
		if !strings.HasPrefix(ids[i], "evt_") || len(ids[i]) != 4+26 {
			t.Fatalf("id %q: want evt_ and 26 characters", ids[i])
		}
	}
	// Ids made in later milliseconds sort later.
	if !sort.StringsAreSorted([]string{ids[0][:4+9], ids[len(ids)-1][:4+9]}) {
		t.Errorf("time prefixes out of order: %s > %s", ids[0], ids[len(ids)-1])
	}
}
