package main

import (
	"github.com/hookrelay/hookrelay/client"

	"bytes"
	"strings"
	"testing"
)

// TestPrintSourceHugeSeconds: durations in seconds from the server are
// shown saturated, never wrapped around to a negative or small duration.
func TestPrintSourceHugeSeconds(t *testing.T) {
	t.Parallel()
	for _, secs := range []int64{9223372037, 18446744074} {
		var b bytes.Buffer
		if err := printSource(&b, "http://x", &client.Source{ToleranceSeconds: secs, DedupeWindowSeconds: secs}); err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(b.String(), "\n") {
			if (strings.HasPrefix(line, "tolerance") || strings.HasPrefix(line, "dedupe window")) && !strings.Contains(line, "2562047h") {
				t.Errorf("%d seconds shown as %q, want the longest duration", secs, line)
			}
		}
	}
}
