package delivery

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// The load test measures the engine against the targets in the issue. It
// is slow and machine-dependent, so it runs only with HOOKRELAY_LOAD=1:
//
//	HOOKRELAY_LOAD=1 go test -run TestLoad -v ./internal/delivery
//
// The sink runs in a child process (this test binary again), so that the
// CPU time measured is the engine's and the store's alone.

func TestLoadSink(t *testing.T) {
	if os.Getenv("HOOKRELAY_LOAD_SINK") != "1" {
		t.Skip("helper process for TestLoad")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(ln.Addr().String())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	})}
	go srv.Serve(ln)
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	srv.Close()
}

func startSink(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLoadSink$")
	cmd.Env = append(os.Environ(), "HOOKRELAY_LOAD_SINK=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return "http://" + strings.TrimSpace(line) + "/hook"
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func peakRSS() string {
	b, _ := os.ReadFile("/proc/self/status")
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") || strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "RssAnon:") || strings.HasPrefix(l, "RssFile:") {
			out = append(out, strings.Join(strings.Fields(l), " "))
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	out = append(out, fmt.Sprintf("Go heap in use %d kB, Go sys %d kB", ms.HeapInuse>>10, ms.Sys>>10))
	return strings.Join(out, ", ")
}

var payload1K = func() []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"invoice.paid","data":{"text":"`)
	for b.Len() < 1000 {
		b.WriteString("abcdefghij")
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}()

func TestLoad(t *testing.T) {
	if os.Getenv("HOOKRELAY_LOAD") != "1" {
		t.Skip("set HOOKRELAY_LOAD=1 to run the load test")
	}
	sink := startSink(t)

	t.Run("bare client", func(t *testing.T) {
		client := NewHTTPClient(true, 15*time.Second)
		var n atomic.Int64
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		cpu0, start := cpuTime(), time.Now()
		var wg sync.WaitGroup
		for range 64 {
			wg.Go(func() {
				for ctx.Err() == nil {
					req, _ := http.NewRequest("POST", sink, bytes.NewReader(payload1K))
					req.Header.Set("Content-Type", "application/json")
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					n.Add(1)
				}
			})
		}
		wg.Wait()
		el, cpu := time.Since(start), cpuTime()-cpu0
		t.Logf("bare client: %.0f requests/s, %.3f CPU-ms per request", float64(n.Load())/el.Seconds(), float64(cpu.Microseconds())/1000/float64(n.Load()))
	})

	for _, endpoints := range []int{1, 16} {
		t.Run(fmt.Sprintf("throughput %d endpoints", endpoints), func(t *testing.T) {
			st := openLoadStore(t, "full")
			const n = 40000
			fill(t, st, sink, endpoints, n/endpoints)
			e, err := New(Config{Store: st, AllowPrivateNetworks: true})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			runtime.GC()
			if p := os.Getenv("HOOKRELAY_LOAD_PROFILE"); p != "" {
				f, err := os.Create(fmt.Sprintf("%s.%d", p, endpoints))
				if err != nil {
					t.Fatal(err)
				}
				pprof.StartCPUProfile(f)
				defer pprof.StopCPUProfile()
			}
			cpu0, start := cpuTime(), time.Now()
			go func() { done <- e.Run(ctx) }()
			var samples, full, heldEmpty int
			for e.recorded.Load() < n {
				time.Sleep(time.Millisecond)
				e.mu.Lock()
				samples++
				if e.inflight >= min(endpoints*e.cfg.EndpointConcurrency, e.cfg.Workers) {
					full++
				}
				if e.held == 0 {
					heldEmpty++
				}
				e.mu.Unlock()
			}
			t.Logf("in flight at the limit in %d%% of samples, nothing held in %d%%", 100*full/max(samples, 1), 100*heldEmpty/max(samples, 1))
			el, cpu := time.Since(start), cpuTime()-cpu0
			cancel()
			<-done
			t.Logf("engine, %d endpoints: %.0f deliveries/s, %.3f CPU-ms per delivery (engine + store), %s",
				endpoints, n/el.Seconds(), float64(cpu.Microseconds())/1000/n, peakRSS())
		})
	}

	t.Run("latency at 1000 events/s", func(t *testing.T) {
		st := openLoadStore(t, "full")
		fill(t, st, sink, 1, 0)
		e, err := New(Config{Store: st, AllowPrivateNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		type acc struct {
			at  time.Time
			ids []string
		}
		var mu sync.Mutex
		var accepted []acc
		const seconds, perTick = 5, 10 // 100 ticks of 10 events a second
		tick := time.NewTicker(10 * time.Millisecond)
		var wg sync.WaitGroup
		for range seconds * 100 {
			<-tick.C
			for range perTick {
				wg.Go(func() {
					at := time.Now()
					_, ds, err := st.CreateEvent(context.Background(), &store.Event{Type: "x", Payload: payload1K}, time.Time{})
					if err != nil {
						t.Error(err)
						return
					}
					e.Notify()
					a := acc{at: at}
					for _, d := range ds {
						a.ids = append(a.ids, d.ID)
					}
					mu.Lock()
					accepted = append(accepted, a)
					mu.Unlock()
				})
			}
		}
		tick.Stop()
		wg.Wait()
		for e.recorded.Load() < int64(len(accepted)) {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		var lat []time.Duration
		for _, a := range accepted {
			for _, id := range a.ids {
				as, err := st.ListAttempts(context.Background(), id)
				if err != nil || len(as) == 0 {
					t.Fatalf("attempts of %s: %v", id, err)
				}
				lat = append(lat, as[0].StartedAt.Sub(a.at))
			}
		}
		slices.Sort(lat)
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		t.Logf("accept to first attempt over %d deliveries (1000 events/s, %d delivery per event): p50 %v p99 %v max %v",
			len(lat), len(accepted[0].ids), p(.5), p(.99), lat[len(lat)-1])
	})

	t.Run("RSS with 1M pending", func(t *testing.T) {
		if os.Getenv("HOOKRELAY_LOAD_1M") != "1" {
			t.Skip("set HOOKRELAY_LOAD_1M=1 as well (fills a million deliveries)")
		}
		st := openLoadStore(t, "normal")
		fill(t, st, sink, 100, 10000)
		runtime.GC()
		t.Logf("after filling: %s", peakRSS())
		e, err := New(Config{Store: st, AllowPrivateNetworks: true})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		e.Run(ctx)
		qs, _ := st.QueueStats(context.Background(), time.Now())
		t.Logf("after 15s with %d still pending: %s", qs.Pending, peakRSS())
	})
}

func openLoadStore(t *testing.T, sync string) *sqlite.Store {
	t.Helper()
	box, _ := secretbox.New(bytes.Repeat([]byte{1}, 32))
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "load.db"), &sqlite.Config{Cipher: box, Synchronous: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// fill creates endpoints and perEndpoint events for each, with an event
// type per endpoint so that each event has one delivery.
func fill(t *testing.T, st *sqlite.Store, url string, endpoints, perEndpoint int) {
	t.Helper()
	now := time.Now()
	for i := range endpoints {
		ep := &store.Endpoint{ID: store.NewID("ep"), URL: url, Scheme: "github", CreatedAt: now, UpdatedAt: now,
			Secrets: []store.Secret{{Value: "load-secret", CreatedAt: now}}}
		if perEndpoint > 0 {
			ep.EventTypes = []string{"t" + strconv.Itoa(i)}
		}
		if err := st.CreateEndpoint(context.Background(), ep); err != nil {
			t.Fatal(err)
		}
	}
	if perEndpoint == 0 {
		return
	}
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 64 {
		wg.Go(func() {
			for i := range work {
				if _, _, err := st.CreateEvent(context.Background(), &store.Event{Type: "t" + strconv.Itoa(i%endpoints), Payload: payload1K}, time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range endpoints * perEndpoint {
		work <- i
	}
	close(work)
	wg.Wait()
	t.Logf("filled %d deliveries in %v", endpoints*perEndpoint, time.Since(start))
}
