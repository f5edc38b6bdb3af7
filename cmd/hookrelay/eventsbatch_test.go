package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/client"
)

// TestEventsSendBatch: events send --batch against a real serve sends a
// JSON Lines file of more than one request's worth, reports each line's
// result in order (a refused line, a repeated key), stores each payload
// byte for byte, and exits 1 because a line was refused.
func TestEventsSendBatch(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	var ep client.Endpoint
	if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "endpoints", "create", "--url", "http://127.0.0.1:9/hook", "--json")), &ep); err != nil {
		t.Fatal(err)
	}
	n := batchEvents + 3
	var b strings.Builder
	for i := range n {
		switch i {
		case 2:
			b.WriteString(`{"type":"bad type","payload":{}}` + "\n")
		case 5, n - 1:
			b.WriteString(`{"type":"order.created","payload":1,"idempotency_key":"same"}` + "\n")
		default:
			fmt.Fprintf(&b, `{"type":"order.created", "payload": {"n": %d.0, "big": 123456789012345678901}}`+"\n", i)
		}
		if i == 10 {
			b.WriteString("\n") // blank lines are skipped, and counted
		}
	}
	file := filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errs, code := svc.cli(t, nil, "", "events", "send", "--batch", file)
	if code != 1 || !strings.Contains(errs, fmt.Sprintf("%d events accepted, 1 refused", n-1)) {
		t.Fatalf("exit %d, stderr %s", code, errs)
	}
	got := strings.Split(strings.TrimSpace(out), "\n")
	if len(got) != n {
		t.Fatalf("%d result lines, want %d:\n%s", len(got), n, out)
	}
	if !strings.HasPrefix(got[2], "line 3: refused (422 validation_failed)") {
		t.Errorf("line 3: %s", got[2])
	}
	first := strings.Fields(got[5])[2]
	if !strings.HasPrefix(got[5], "line 6: evt_") || !strings.Contains(got[n-1], first+" (duplicate") {
		t.Errorf("repeated key: %q and %q", got[5], got[n-1])
	}
	// After the blank line, numbers follow the file's lines.
	last := fmt.Sprintf("line %d: evt_", n) // line n is event n-2 (0-based) after one blank line
	if !strings.HasPrefix(got[n-2], last) || !strings.HasSuffix(got[n-2], "accepted, 1 deliveries") {
		t.Errorf("result %d: %q, want %q...", n-2, got[n-2], last)
	}
	id := strings.Fields(got[n-2])[2]
	var ev client.Event
	if err := json.Unmarshal([]byte(svc.mustCLI(t, "", "events", "get", id, "--json")), &ev); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`{"n": %d.0, "big": 123456789012345678901}`, n-2); string(ev.Payload) != want {
		t.Errorf("payload %s, want %s", ev.Payload, want)
	}

	// A malformed line stops it before anything is sent.
	_, errs, code = svc.cli(t, nil, `{"type":"a","payload":{}}`+"\n"+`{"type":"a","payload":{},"extra":1}`+"\n", "events", "send", "--batch", "-")
	if code != 1 || !strings.Contains(errs, "line 2") {
		t.Errorf("malformed line: exit %d: %s", code, errs)
	}
	_, errs, code = svc.cli(t, nil, "", "events", "send", "--batch", file, "--type", "x")
	if code != 2 {
		t.Errorf("--batch with --type: exit %d: %s", code, errs)
	}
}
