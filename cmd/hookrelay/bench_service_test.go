package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServiceReadsStderrBeforeWait: startService forwards every error line
// the child writes, up to its exit, before it reports the exit. The child
// here is a script that says it listens, waits for the test (on a FIFO),
// then writes many error lines and exits at once. Before the fix cmd.Wait
// ran while the scanner still read, closing the pipe under it: lines were
// lost, and with -race the read of e.stderr after the exit raced with the
// scanner's writes.
func TestServiceReadsStderrBeforeWait(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "go")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	const lines = 2000
	script := filepath.Join(dir, "fake-serve")
	err := os.WriteFile(script, []byte(`#!/bin/sh
echo 'msg="listening on http://127.0.0.1:1/"' >&2
read x < "$FAKE_SERVE_FIFO"
i=0
while [ $i -lt 2000 ]; do
	echo "level=ERROR msg=\"line $i\"" >&2
	i=$((i+1))
done
`), 0o700)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer // unsynchronized on purpose: the race detector checks the hand-over
	e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, getenv: os.Getenv}
	s, err := startServiceConfig(context.Background(), e, script, serviceConfig{
		Dir: filepath.Join(dir, "data"), Env: []string{"FAKE_SERVE_FIFO=" + fifo},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.url != "http://127.0.0.1:1/" {
		t.Errorf("url %q", s.url)
	}
	if err := os.WriteFile(fifo, []byte("go\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := <-s.done; err != nil {
		t.Fatalf("fake serve: %v", err)
	}
	if got := strings.Count(stderr.String(), "serve: level=ERROR"); got != lines {
		t.Errorf("%d of %d error lines forwarded before the exit was reported", got, lines)
	}
}
