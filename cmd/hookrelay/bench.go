package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runBench measures hookrelay against the ceiling of a bare Go HTTP client in
// one run: the same 1 KB payload, the same loopback sink. It starts
// "hookrelay serve" as a child process (this same binary) on a fresh data
// directory, so that the service's CPU time and memory are its own.
func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench", e.stderr)
	events := fs.Int("events", 20000, "events to send in the throughput phase")
	conc := fs.Int("concurrency", 64, "concurrent clients for the bare-client and accept phases")
	rate := fs.Int("rate", 1000, "events per second in the latency phase")
	latencyFor := fs.Duration("latency-duration", 10*time.Second, "length of the latency phase (0 skips it)")
	pending := fs.Int("pending", 0, "if > 0, also measure RSS with this many deliveries pending")
	dataDir := fs.String("data", "", "data directory for the service (default: a new temporary directory)")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay bench [flags]")
		fmt.Fprintln(fs.Output(), "\nRuns a bare Go HTTP client against a loopback sink (the ceiling), then hookrelay\ndelivering to the same sink, and reports both.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *events <= 0 || *conc <= 0 || *rate <= 0 {
		return usagef("--events, --concurrency and --rate must be positive")
	}

	payload := benchPayload(1024)
	sink := newBenchSink()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen for sink: %w", err)
	}
	sinkSrv := &http.Server{Handler: sink, ReadHeaderTimeout: 10 * time.Second}
	go sinkSrv.Serve(ln)
	defer sinkSrv.Close()
	sinkURL := "http://" + ln.Addr().String() + "/hook"

	var res benchResults
	res.PayloadBytes = len(payload)

	// Phase 1: the ceiling.
	fmt.Fprintf(e.stderr, "bench: bare client, %d requests, %d concurrent\n", *events, *conc)
	bare, err := bareClient(ctx, sinkURL, payload, *events, *conc)
	if err != nil {
		return err
	}
	res.BarePerSec = bare

	// Phase 2: hookrelay.
	dir := *dataDir
	if dir == "" {
		dir, err = os.MkdirTemp("", "hookrelay-bench-")
		if err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
		defer os.RemoveAll(dir)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	svc, err := startService(ctx, e, exe, dir)
	if err != nil {
		return err
	}
	defer svc.stop()
	api := &benchAPI{base: svc.url, key: svc.key, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}}}
	if _, err := api.post(ctx, "/api/v1/endpoints", fmt.Sprintf(`{"url":%q,"scheme":"standard"}`, sinkURL)); err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}

	cpu0, _ := procCPU(svc.cmd.Process.Pid)
	sink.reset()
	fmt.Fprintf(e.stderr, "bench: hookrelay, %d events, %d concurrent\n", *events, *conc)
	start := time.Now()
	accepted, err := api.sendEvents(ctx, payload, *events, *conc, 0, nil)
	if err != nil {
		return err
	}
	acceptDur := time.Since(start)
	if err := sink.waitFor(ctx, int64(*events), 5*time.Minute); err != nil {
		return err
	}
	deliverDur := sink.lastArrival().Sub(start)
	time.Sleep(300 * time.Millisecond) // let the last attempts be recorded
	cpu1, _ := procCPU(svc.cmd.Process.Pid)
	res.AcceptedPerSec = float64(accepted) / acceptDur.Seconds()
	res.DeliveredPerSec = float64(*events) / deliverDur.Seconds()
	res.Ratio = res.DeliveredPerSec / res.BarePerSec
	res.CPUMsPerDelivery = float64(cpu1-cpu0) / float64(*events)
	res.Duplicates = sink.duplicates()

	// Phase 3: latency at a fixed rate.
	if *latencyFor > 0 {
		n := int(float64(*rate) * latencyFor.Seconds())
		fmt.Fprintf(e.stderr, "bench: latency, %d events/s for %v\n", *rate, *latencyFor)
		sink.reset()
		acceptedAt := &sync.Map{}
		if _, err := api.sendEvents(ctx, payload, n, *conc, *rate, acceptedAt); err != nil {
			return err
		}
		if err := sink.waitFor(ctx, int64(n), 2*time.Minute); err != nil {
			return err
		}
		lat := sink.latencies(acceptedAt)
		res.LatencyRate = *rate
		res.P50Ms, res.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
	}
	res.PeakRSSMB = procPeakRSS(svc.cmd.Process.Pid)

	// Phase 4: memory with many deliveries pending.
	if *pending > 0 {
		// An endpoint limited to one delivery every ~3 hours keeps its
		// deliveries pending.
		if _, err := api.post(ctx, "/api/v1/endpoints", fmt.Sprintf(`{"url":%q,"scheme":"standard","rate_limit":0.0001,"event_types":["bench.pending"]}`, sinkURL)); err != nil {
			return fmt.Errorf("create pending endpoint: %w", err)
		}
		fmt.Fprintf(e.stderr, "bench: %d pending deliveries\n", *pending)
		api.eventType = "bench.pending"
		if _, err := api.sendEvents(ctx, payload, *pending, *conc, 0, nil); err != nil {
			return err
		}
		res.Pending = *pending
		res.PendingRSSMB = procRSS(svc.cmd.Process.Pid)
		res.PendingPeakRSSMB = procPeakRSS(svc.cmd.Process.Pid)
	}

	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(e.stdout)
	return nil
}

type benchResults struct {
	PayloadBytes     int     `json:"payload_bytes"`
	BarePerSec       float64 `json:"bare_client_per_sec"`
	AcceptedPerSec   float64 `json:"events_accepted_per_sec"`
	DeliveredPerSec  float64 `json:"deliveries_per_sec"`
	Ratio            float64 `json:"deliveries_to_bare_ratio"`
	CPUMsPerDelivery float64 `json:"cpu_ms_per_delivery"`
	Duplicates       int64   `json:"duplicates"`
	LatencyRate      int     `json:"latency_events_per_sec,omitempty"`
	P50Ms            float64 `json:"accept_to_first_attempt_p50_ms,omitempty"`
	P99Ms            float64 `json:"accept_to_first_attempt_p99_ms,omitempty"`
	PeakRSSMB        float64 `json:"peak_rss_mb"`
	Pending          int     `json:"pending,omitempty"`
	PendingRSSMB     float64 `json:"pending_rss_mb,omitempty"`
	PendingPeakRSSMB float64 `json:"pending_peak_rss_mb,omitempty"`
}

func (r benchResults) print(w io.Writer) {
	fmt.Fprintf(w, "payload                          %d bytes\n", r.PayloadBytes)
	fmt.Fprintf(w, "bare Go client (ceiling)         %.0f req/s\n", r.BarePerSec)
	fmt.Fprintf(w, "hookrelay events accepted        %.0f /s\n", r.AcceptedPerSec)
	fmt.Fprintf(w, "hookrelay deliveries completed   %.0f /s  (%.2fx the bare client)\n", r.DeliveredPerSec, r.Ratio)
	fmt.Fprintf(w, "CPU per delivery                 %.3f ms\n", r.CPUMsPerDelivery)
	fmt.Fprintf(w, "duplicate deliveries             %d\n", r.Duplicates)
	if r.LatencyRate > 0 {
		fmt.Fprintf(w, "accept→first attempt @%d/s      p50 %.1f ms, p99 %.1f ms\n", r.LatencyRate, r.P50Ms, r.P99Ms)
	}
	fmt.Fprintf(w, "peak RSS                         %.0f MB\n", r.PeakRSSMB)
	if r.Pending > 0 {
		fmt.Fprintf(w, "RSS with %d pending         %.0f MB (peak %.0f MB)\n", r.Pending, r.PendingRSSMB, r.PendingPeakRSSMB)
	}
}

// benchPayload returns a JSON object of about n bytes.
func benchPayload(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"invoice.paid","data":{"id":"in_1","amount":4200,"currency":"eur","customer":"Zoë","lines":[`)
	for i := 0; b.Len() < n-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"sku":"item-%04d","qty":%d,"price":%d.5}`, i, i%7+1, i*3)
	}
	b.WriteString(`]},"livemode":false}`)
	return b.Bytes()
}

// bareClient posts payload n times with conc workers and returns requests/s.
func bareClient(ctx context.Context, url string, payload []byte, n, conc int) (float64, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2}}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, fmt.Errorf("bare client: %w", firstErr)
	}
	return float64(n) / time.Since(start).Seconds(), ctx.Err()
}

// benchSink counts deliveries and records when each message first arrived.
type benchSink struct {
	mu      sync.Mutex
	first   map[string]time.Time
	last    time.Time
	count   atomic.Int64
	dups    atomic.Int64
	arrived chan struct{}
}

func newBenchSink() *benchSink {
	return &benchSink{first: map[string]time.Time{}, arrived: make(chan struct{}, 1)}
}

func (s *benchSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	now := time.Now()
	if id := r.Header.Get("webhook-id"); id != "" {
		s.mu.Lock()
		if _, ok := s.first[id]; ok {
			s.dups.Add(1)
		} else {
			s.first[id] = now
			s.count.Add(1)
		}
		s.last = now
		s.mu.Unlock()
		select {
		case s.arrived <- struct{}{}:
		default:
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *benchSink) reset() {
	s.mu.Lock()
	s.first = map[string]time.Time{}
	s.count.Store(0)
	s.dups.Store(0)
	s.mu.Unlock()
}

func (s *benchSink) duplicates() int64 { return s.dups.Load() }

func (s *benchSink) lastArrival() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *benchSink) waitFor(ctx context.Context, n int64, limit time.Duration) error {
	deadline := time.After(limit)
	for s.count.Load() < n {
		select {
		case <-s.arrived:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			return fmt.Errorf("sink got %d of %d deliveries within %v", s.count.Load(), n, limit)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// latencies returns, in milliseconds, for each event accepted, the time from
// the client's receipt of 202 to the first attempt's arrival at the sink.
func (s *benchSink) latencies(acceptedAt *sync.Map) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []float64
	acceptedAt.Range(func(k, v any) bool {
		if t, ok := s.first[k.(string)]; ok {
			out = append(out, max(0, float64(t.Sub(v.(time.Time)).Microseconds())/1000))
		}
		return true
	})
	slices.Sort(out)
	return out
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// service is a "hookrelay serve" child process.
type service struct {
	cmd  *exec.Cmd
	url  string
	key  string
	done chan error
}

var listeningRE = regexp.MustCompile(`listening on (http://[^\s"]+)`)

// startService starts exe serve on a free loopback port with its data in
// dir and an admin key of its own, and waits until it listens.
func startService(ctx context.Context, e *env, exe, dir string, extra ...string) (*service, error) {
	key := "hr_bench_" + strings.ReplaceAll(filepath.Base(dir), "-", "_") // the same on a restart
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", dir, "--allow-private-networks", "--log-level", "warn"}, extra...)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), "HOOKRELAY_ADMIN_KEY="+key)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	s := &service{cmd: cmd, key: key, done: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			} else if strings.Contains(line, "level=ERROR") || strings.Contains(line, "panic") {
				fmt.Fprintln(e.stderr, "serve:", line)
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()
	select {
	case s.url = <-found:
	case err := <-s.done:
		return nil, fmt.Errorf("serve exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, errors.New("serve did not start listening within 30s")
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	return s, nil
}

func (s *service) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

type benchAPI struct {
	base, key string
	client    *http.Client
	eventType string
}

func (a *benchAPI) post(ctx context.Context, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", a.base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("POST %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// sendEvents sends n events with conc workers, at most rate per second when
// rate > 0, and records each event's accept time in acceptedAt when it is
// not nil. It returns how many were accepted.
func (a *benchAPI) sendEvents(ctx context.Context, payload []byte, n, conc, rate int, acceptedAt *sync.Map) (int, error) {
	typ := a.eventType
	if typ == "" {
		typ = "invoice.paid"
	}
	body := fmt.Sprintf(`{"type":%q,"payload":%s}`, typ, payload)
	var tick <-chan time.Time
	if rate > 0 {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		tick = t.C
	}
	var next, accepted atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				if tick != nil {
					<-tick
				}
				b, err := a.post(ctx, "/api/v1/events", body)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				now := time.Now()
				accepted.Add(1)
				if acceptedAt != nil {
					acceptedAt.Store(eventID(b), now)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return int(accepted.Load()), fmt.Errorf("send events: %w", firstErr)
	}
	return int(accepted.Load()), ctx.Err()
}

// procCPU returns the user+system CPU time of a process in milliseconds.
func procCPU(pid int) (int64, error) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesized command name; utime and stime are the
	// 14th and 15th fields of the whole line, in clock ticks (100 Hz).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return (ut + st) * 10, nil
}

func procStatusMB(pid int, field string) float64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func procPeakRSS(pid int) float64 { return procStatusMB(pid, "VmHWM") }
func procRSS(pid int) float64     { return procStatusMB(pid, "VmRSS") }

// eventID returns the "id" member of an API response.
func eventID(b []byte) string {
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(b, &ev) != nil {
		return ""
	}
	return ev.ID
}
