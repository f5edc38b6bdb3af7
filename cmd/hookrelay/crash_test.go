package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// buildBinary builds the hookrelay binary into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "hookrelay")
	out, err := exec.Command("go", "build", "-o", exe, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exe
}

// TestCrashLosesNothing sends events at load, kills the service with
// SIGKILL while events are being accepted and delivered, restarts it on the
// same data directory, and checks that every event that got a 202 reaches
// the receiver. Duplicates are allowed (at-least-once) and reported.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	exe := buildBinary(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := &env{stderr: &bytes.Buffer{}}

	sink := newBenchSink()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sink}
	go srv.Serve(ln)
	defer srv.Close()
	sinkURL := "http://" + ln.Addr().String() + "/hook"

	svc, err := startService(ctx, e, exe, dir, "--retry-schedule", "200ms,500ms,1s,2s")
	if err != nil {
		t.Fatalf("start: %v (stderr: %s)", err, e.stderr)
	}
	api := &benchAPI{base: svc.url, key: svc.key, client: &http.Client{Timeout: 10 * time.Second}}
	if _, err := api.post(ctx, "/api/v1/endpoints", fmt.Sprintf(`{"url":%q,"scheme":"standard"}`, sinkURL)); err != nil {
		t.Fatal(err)
	}

	// Send events from 16 clients until the kill; remember every id that
	// was accepted with a 2xx.
	var accepted sync.Map
	var nAccepted atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	payload := benchPayload(1024)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"type":"invoice.paid","payload":%s}`, payload)
			for {
				select {
				case <-stop:
					return
				default:
				}
				b, err := api.post(ctx, "/api/v1/events", body)
				if err != nil {
					continue // the service is down: not accepted
				}
				id := eventID(b)
				if id == "" {
					t.Errorf("202 without an id: %s", b)
					return
				}
				accepted.Store(id, true)
				nAccepted.Add(1)
			}
		}()
	}
	// Kill once some events are accepted and some delivered.
	for nAccepted.Load() < 2000 || sink.count.Load() < 500 {
		if ctx.Err() != nil {
			t.Fatalf("timed out before the kill: accepted %d, delivered %d", nAccepted.Load(), sink.count.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := svc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-svc.done
	close(stop)
	wg.Wait()
	before := sink.count.Load()
	t.Logf("killed with %d events accepted, %d delivered", nAccepted.Load(), before)

	svc2, err := startService(ctx, e, exe, dir, "--retry-schedule", "200ms,500ms,1s,2s")
	if err != nil {
		t.Fatalf("restart: %v (stderr: %s)", err, e.stderr)
	}
	defer svc2.stop()

	var missing []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		missing = missing[:0]
		sink.mu.Lock()
		accepted.Range(func(k, _ any) bool {
			if _, ok := sink.first[k.(string)]; !ok {
				missing = append(missing, k.(string))
			}
			return true
		})
		sink.mu.Unlock()
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d accepted events never delivered after restart, e.g. %v", len(missing), nAccepted.Load(), missing[:min(5, len(missing))])
	}
	t.Logf("all %d accepted events delivered; %d delivered after the restart; %d duplicates", nAccepted.Load(), sink.count.Load()-before, sink.duplicates())
}
