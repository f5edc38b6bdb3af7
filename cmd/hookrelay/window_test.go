package main

import (
	"strings"
	"testing"
	"time"
)

// TestParseWindow: --since and --until are read against one now, --until
// is optional, and a bad value's error names the flag it came in (an
// --until error once said --since).
func TestParseWindow(t *testing.T) {
	from, to, err := parseWindow("2026-01-02T15:04:05Z", "")
	if err != nil || !from.Equal(time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)) || to != nil {
		t.Fatalf("since only: %v %v %v", from, to, err)
	}
	from, to, err = parseWindow("2h", "1h")
	if err != nil || to == nil || to.Sub(from) != time.Hour {
		t.Fatalf("2h..1h: %v %v %v", from, to, err)
	}
	for _, c := range []struct{ since, until, flag string }{
		{"yesterday", "", "--since"},
		{"1h", "soon", "--until"},
	} {
		_, _, err := parseWindow(c.since, c.until)
		if err == nil || !strings.HasPrefix(err.Error(), c.flag+" ") {
			t.Errorf("parseWindow(%q, %q) = %v, want an error naming %s", c.since, c.until, err, c.flag)
		}
	}
}
