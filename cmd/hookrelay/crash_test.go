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

// recoveryBound is how soon after a restart, once it is healthy, every
// accepted event must have reached the receiver: the leases the killed
// process held are taken back at start (store.Store.ReleaseLeases), not
// left to run out (the request timeout plus 30 s).
const recoveryBound = 10 * time.Second

// TestCrashLosesNothing sends events at load, kills the service with
// SIGKILL while events are being accepted and delivered, restarts it on the
// same data directory, and checks that every event that got a 202 reaches
// the receiver within recoveryBound of the restart answering /healthz.
// Duplicates are allowed (at-least-once) and reported.
func TestCrashLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	crashAndRestart(t, buildBinary(t), serviceConfig{Dir: t.TempDir()})
}

// TestCrashLosesNothingPostgres is TestCrashLosesNothing on PostgreSQL:
// the restarted node, with the same node id (the default, from its host
// and data directory), takes back its own leases at once.
func TestCrashLosesNothingPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the service")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := freshDatabase(t, ctx, "crash")
	crashAndRestart(t, buildBinary(t), serviceConfig{Dir: t.TempDir(), Database: db})
}

// crashAndRestart runs the crash test on the service c describes.
func crashAndRestart(t *testing.T, exe string, c serviceConfig) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	e := &env{stderr: &bytes.Buffer{}}
	c.Args = append(c.Args, "--retry-schedule", "200ms,500ms,1s,2s")

	sink := newBenchSink()
	gate := &stallGate{next: sink, killed: make(chan struct{}), stalledOne: make(chan struct{}, 1)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gate}
	go srv.Serve(ln)
	defer srv.Close()
	sinkURL := "http://" + ln.Addr().String() + "/hook"

	svc, err := startServiceConfig(ctx, e, exe, c)
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
	// Once some events are accepted and some delivered (each arrival at
	// the receiver wakes this loop), the receiver stops answering, so that
	// the kill finds deliveries in flight, their leases held by the dying
	// process; those not yet started are leased too (claimed, or handed
	// over at creation).
	for nAccepted.Load() < 2000 || sink.count.Load() < 500 {
		select {
		case <-sink.arrived:
		case <-ctx.Done():
			t.Fatalf("timed out before the kill: accepted %d, delivered %d", nAccepted.Load(), sink.count.Load())
		}
	}
	gate.stall.Store(true)
	for gate.stalled.Load() < 16 {
		select {
		case <-gate.stalledOne:
		case <-ctx.Done():
			t.Fatalf("timed out waiting for requests in flight: %d", gate.stalled.Load())
		}
	}
	if err := svc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-svc.done
	close(gate.killed) // the stalled requests get a 503, not recorded
	gate.stall.Store(false)
	close(stop)
	wg.Wait()
	before := sink.count.Load()
	t.Logf("killed with %d events accepted, %d delivered, %d requests in flight", nAccepted.Load(), before, gate.stalled.Load())

	svc2, err := startServiceConfig(ctx, e, exe, c)
	if err != nil {
		t.Fatalf("restart: %v (stderr: %s)", err, e.stderr)
	}
	defer svc2.stop()
	resp, err := http.Get(svc2.url + "/healthz")
	if err != nil {
		t.Fatalf("healthz after the restart: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz after the restart: %s", resp.Status)
	}
	healthy := time.Now()

	var missing []string
	bound := time.NewTimer(recoveryBound)
	defer bound.Stop()
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
		if len(missing) == 0 {
			break
		}
		select {
		case <-sink.arrived:
			continue
		case <-bound.C:
		}
		t.Fatalf("%d of %d accepted events not delivered within %v of the restart being healthy, e.g. %v",
			len(missing), nAccepted.Load(), recoveryBound, missing[:min(5, len(missing))])
	}
	t.Logf("all %d accepted events delivered, the last %v after the restart was healthy; %d delivered after the restart; %d duplicates",
		nAccepted.Load(), time.Since(healthy).Round(time.Millisecond), sink.count.Load()-before, sink.duplicates())
}

// stallGate passes requests to next until stall is set; then it holds each
// request, unrecorded, until killed is closed, and answers 503: requests in
// flight when the service is killed.
type stallGate struct {
	next       http.Handler
	stall      atomic.Bool
	stalled    atomic.Int64
	stalledOne chan struct{} // a request was stalled; buffered, 1
	killed     chan struct{}
}

func (g *stallGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !g.stall.Load() {
		g.next.ServeHTTP(w, r)
		return
	}
	g.stalled.Add(1)
	select {
	case g.stalledOne <- struct{}{}:
	default:
	}
	select {
	case <-g.killed:
	case <-r.Context().Done():
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}
