package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
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

	"github.com/jackc/pgx/v5"

	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
)

// runBench measures hookrelay against the ceiling of a bare Go HTTP client in
// one run: the same 1 KB payload, the same loopback sink. It starts
// "hookrelay serve" as child processes (this same binary), on a fresh data
// directory or a fresh PostgreSQL database, so that the service's CPU time
// and memory are its own.
func runBench(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("bench", e.stderr)
	events := fs.Int("events", 20000, "events to send in the throughput phase")
	conc := fs.Int("concurrency", 64, "concurrent clients for the bare-client and accept phases")
	rate := fs.Int("rate", 1000, "events per second in the latency phase")
	latencyFor := fs.Duration("latency-duration", 10*time.Second, "length of the latency phase (0 skips it)")
	pending := fs.Int("pending", 0, "if > 0, also measure RSS with this many deliveries pending")
	drain := fs.Int("drain", 20000, "SQLite: deliveries queued while the service is stopped, then timed as it drains them (0 skips it)")
	dataDir := fs.String("data", "", "data directory for the service (default: a new temporary directory)")
	dbURL := fs.String("database", "", "PostgreSQL server to benchmark on (postgres://…): a new database is created on it for the run and dropped after; empty: SQLite")
	nodes := fs.Int("nodes", 1, "serve processes sharing the --database, events spread across them")
	jsonOut := fs.Bool("json", false, "print the results as JSON")
	batch := fs.Int("batch", 1, "events per request in the throughput and pending phases: above 1, they go to POST /api/v1/events/batch (at most 1000)")
	cpuProfile := fs.String("cpuprofile", "", "write each serve process's CPU profile into this directory: serve.prof (throughput, latency and pending phases; serve-nodeN.prof with several nodes) and drain.prof (the drain phase), for go tool pprof")
	var serveArgs stringList
	fs.Var(&serveArgs, "serve-arg", "pass this flag to serve, such as --serve-arg=--endpoint-concurrency=8 (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay bench [flags]")
		fmt.Fprintln(fs.Output(), "\nRuns a bare Go HTTP client against a loopback sink (the ceiling), then hookrelay\ndelivering to the same sink, and reports both.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *events <= 0 || *conc <= 0 || *rate <= 0 || *nodes <= 0 {
		return usagef("--events, --concurrency, --rate and --nodes must be positive")
	}
	if *batch < 1 || *batch > batchEvents {
		return usagef("--batch must be 1 to %d", batchEvents)
	}
	if err := checkDatabaseURL(*dbURL); err != nil {
		return usageError{err}
	}
	if *nodes > 1 && *dbURL == "" {
		return usagef("--nodes > 1 needs --database: SQLite serves one node")
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
	res.Backend, res.Nodes, res.ServeArgs, res.Batch = "sqlite", *nodes, serveArgs, *batch

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
	var pgPID int // the PostgreSQL server's, for its CPU time
	if *dbURL != "" {
		res.Backend = "postgres"
		fresh, drop, err := createDatabase(ctx, *dbURL, "hookrelay_bench")
		if err != nil {
			return err
		}
		defer func() {
			if err := drop(); err != nil {
				fmt.Fprintln(e.stderr, "bench:", err)
			}
		}()
		*dbURL = fresh
		pgPID = postgresServerPID(ctx, fresh)
	}
	if *cpuProfile != "" {
		if err := os.MkdirAll(*cpuProfile, 0o755); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
	}
	svcs, err := startNodes(ctx, e, exe, dir, *dbURL, *nodes, serveArgs, *cpuProfile)
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range svcs {
			s.stop()
		}
	}()
	bases := make([]string, len(svcs))
	for i, s := range svcs {
		bases[i] = s.url
	}
	api := &benchAPI{base: svcs[0].url, bases: bases, key: svcs[0].key, batch: *batch, client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}}}
	if _, err := api.post(ctx, "/api/v1/endpoints", fmt.Sprintf(`{"url":%q,"scheme":"standard"}`, sinkURL)); err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}

	cpu0, pgCPU0 := nodesCPU(svcs), treeCPU(pgPID)
	sink.reset()
	fmt.Fprintf(e.stderr, "bench: hookrelay (%s, %d node(s)), %d events, %d concurrent, %d per request\n", res.Backend, *nodes, *events, *conc, *batch)
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
	cpu1, pgCPU1 := nodesCPU(svcs), treeCPU(pgPID)
	res.AcceptedPerSec = float64(accepted) / acceptDur.Seconds()
	res.DeliveredPerSec = float64(*events) / deliverDur.Seconds()
	res.Ratio = res.DeliveredPerSec / res.BarePerSec
	res.CPUMsPerDelivery = float64(cpu1-cpu0) / float64(*events)
	if pgPID != 0 {
		res.PostgresCPUMsPerDelivery = float64(pgCPU1-pgCPU0) / float64(*events)
	}
	res.Duplicates = sink.duplicates()
	if *nodes > 1 {
		for _, s := range svcs {
			n, err := deliveredBy(ctx, s.url)
			if err != nil {
				return err
			}
			res.PerNode = append(res.PerNode, n)
		}
	}

	// Phase 3: latency at a fixed rate.
	if *latencyFor > 0 {
		n := int(float64(*rate) * latencyFor.Seconds())
		fmt.Fprintf(e.stderr, "bench: latency, %d events/s for %v\n", *rate, *latencyFor)
		sink.reset()
		sentAt := &sync.Map{}
		if _, err := api.sendEvents(ctx, payload, n, *conc, *rate, sentAt); err != nil {
			return err
		}
		if err := sink.waitFor(ctx, int64(n), 2*time.Minute); err != nil {
			return err
		}
		lat := sink.latencies(sentAt)
		res.LatencyRate = *rate
		res.P50Ms, res.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
	}
	for _, s := range svcs {
		res.PeakRSSMB = max(res.PeakRSSMB, procPeakRSS(s.cmd.Process.Pid))
	}

	// Phase 4: the delivery engine alone, draining a backlog queued while
	// the service was stopped: no API calls compete with it.
	if *drain > 0 && *dbURL == "" {
		fmt.Fprintf(e.stderr, "bench: drain, %d deliveries queued while stopped\n", *drain)
		svcs[0].stop()
		if err := queueBacklog(ctx, dir, payload, *drain); err != nil {
			return err
		}
		sink.reset()
		s, err := startServiceConfig(ctx, e, exe, serviceConfig{Dir: dir, Args: serveArgs, Env: profileEnv(*cpuProfile, "drain.prof")})
		if err != nil {
			return fmt.Errorf("restart for the drain: %w", err)
		}
		svcs[0] = s
		if err := sink.waitFor(ctx, int64(*drain), 5*time.Minute); err != nil {
			return err
		}
		first, last := sink.span()
		time.Sleep(300 * time.Millisecond) // let the last attempts be recorded
		cpu, _ := procCPU(s.cmd.Process.Pid)
		res.Drain = *drain
		res.DrainPerSec = float64(*drain-1) / last.Sub(first).Seconds()
		res.DrainRatio = res.DrainPerSec / res.BarePerSec
		// The whole process's CPU time, start-up included.
		res.DrainCPUMsPerDelivery = float64(cpu) / float64(*drain)
		res.DrainDuplicates = sink.duplicates()
		res.PeakRSSMB = max(res.PeakRSSMB, procPeakRSS(s.cmd.Process.Pid))
	}

	// Phase 5: memory with many deliveries pending.
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
		for _, s := range svcs {
			res.PendingRSSMB = max(res.PendingRSSMB, procRSS(s.cmd.Process.Pid))
			res.PendingPeakRSSMB = max(res.PendingPeakRSSMB, procPeakRSS(s.cmd.Process.Pid))
		}
	}

	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	res.print(e.stdout)
	return nil
}

// startNodes starts n serve processes with data under dir, on the
// PostgreSQL database dbURL when it is set. They share the secret, session
// and admin keys, as the nodes of one installation must.
func startNodes(ctx context.Context, e *env, exe, dir, dbURL string, n int, args []string, profDir string) ([]*service, error) {
	if dbURL == "" {
		s, err := startServiceConfig(ctx, e, exe, serviceConfig{Dir: dir, Args: args, Env: profileEnv(profDir, "serve.prof")})
		if err != nil {
			return nil, err
		}
		return []*service{s}, nil
	}
	shared := sharedNodeEnv()
	var svcs []*service
	for i := range n {
		s, err := startServiceConfig(ctx, e, exe, serviceConfig{
			Dir:      filepath.Join(dir, fmt.Sprintf("node%d", i+1)),
			Database: dbURL,
			AdminKey: shared.adminKey,
			Env:      append(profileEnv(profDir, fmt.Sprintf("serve-node%d.prof", i+1)), shared.env...),
			Args:     args,
		})
		if err != nil {
			for _, s := range svcs {
				s.stop()
			}
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		svcs = append(svcs, s)
	}
	return svcs, nil
}

// profileEnv returns the environment that makes a serve process write its
// CPU profile to dir/name, or nothing when dir is "".
func profileEnv(dir, name string) []string {
	if dir == "" {
		return nil
	}
	return []string{"HOOKRELAY_CPUPROFILE=" + filepath.Join(dir, name)}
}

// nodeEnv is what every node of one installation shares.
type nodeEnv struct {
	adminKey string
	env      []string
}

// sharedNodeEnv generates the keys the nodes of one installation share.
func sharedNodeEnv() nodeEnv {
	b := make([]byte, 3*secretbox.KeySize)
	rand.Read(b)
	n := nodeEnv{adminKey: "hr_bench_" + hex.EncodeToString(b[:16])}
	n.env = []string{
		"HOOKRELAY_SECRET_KEY=" + base64.StdEncoding.EncodeToString(b[secretbox.KeySize:2*secretbox.KeySize]),
		"HOOKRELAY_SESSION_KEY=" + base64.StdEncoding.EncodeToString(b[2*secretbox.KeySize:]),
	}
	return n
}

// nodesCPU returns the CPU time of the services, in milliseconds.
func nodesCPU(svcs []*service) int64 {
	var sum int64
	for _, s := range svcs {
		ms, _ := procCPU(s.cmd.Process.Pid)
		sum += ms
	}
	return sum
}

// deliveredBy returns the successful deliveries a node has recorded,
// from its hookrelay_deliveries_total.
func deliveredBy(ctx context.Context, base string) (int64, error) {
	n, err := metricSum(ctx, base, "hookrelay_deliveries_total", `outcome="success"`)
	return int64(n), err
}

// metricSum adds up the samples of a metric on a node's /metrics whose
// labels contain match ("" for all).
func metricSum(ctx context.Context, base, name, match string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("metrics of %s: %w", base, err)
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, match) {
			continue
		}
		f := strings.Fields(rest)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics of %s: %q: %w", base, line, err)
		}
		n += v
	}
	return n, sc.Err()
}

// createDatabase creates a database with a new name starting with prefix
// on the PostgreSQL server that dsn (a postgres:// URL) names, and returns
// its URL and a function that drops it.
func createDatabase(ctx context.Context, dsn, prefix string) (string, func() error, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", nil, errors.New("parse the database URL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := prefix + "_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, q string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, q)
		return err
	}
	if err := exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("create database %s on %s: %w", name, redactURL(dsn), err)
	}
	u.Path = "/" + name
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return u.String(), drop, nil
}

// postgresServerPID returns the process id of the PostgreSQL server dsn
// names when it runs on this machine and its data directory is readable,
// else 0.
func postgresServerPID(ctx context.Context, dsn string) int {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var dir string
	if conn.QueryRow(ctx, `SELECT current_setting('data_directory')`).Scan(&dir) != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// treeCPU returns the CPU time, in milliseconds, of process pid and its
// children, live and exited (0 for pid 0).
func treeCPU(pid int) int64 {
	if pid == 0 {
		return 0
	}
	total := procCPUWithChildren(pid)
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		c, err := strconv.Atoi(d.Name())
		if err != nil || c == pid {
			continue
		}
		if procPPID(c) == pid {
			total += procCPUWithChildren(c)
		}
	}
	return total
}

type benchResults struct {
	Backend          string   `json:"backend"`
	Nodes            int      `json:"nodes"`
	Batch            int      `json:"events_per_request"`
	ServeArgs        []string `json:"serve_args,omitempty"`
	PayloadBytes     int      `json:"payload_bytes"`
	BarePerSec       float64  `json:"bare_client_per_sec"`
	AcceptedPerSec   float64  `json:"events_accepted_per_sec"`
	DeliveredPerSec  float64  `json:"deliveries_per_sec"`
	Ratio            float64  `json:"deliveries_to_bare_ratio"`
	CPUMsPerDelivery float64  `json:"cpu_ms_per_delivery"`
	// PostgresCPUMsPerDelivery is the PostgreSQL server's, when it runs on
	// this machine.
	PostgresCPUMsPerDelivery float64 `json:"postgres_cpu_ms_per_delivery,omitempty"`
	// PerNode is the successful deliveries of each node, with several.
	PerNode     []int64 `json:"deliveries_per_node,omitempty"`
	Duplicates  int64   `json:"duplicates"`
	LatencyRate int     `json:"latency_events_per_sec,omitempty"`
	P50Ms       float64 `json:"accept_to_first_attempt_p50_ms,omitempty"`
	P99Ms       float64 `json:"accept_to_first_attempt_p99_ms,omitempty"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	// Drain is the backlog queued with the service stopped, then drained.
	Drain                 int     `json:"drain,omitempty"`
	DrainPerSec           float64 `json:"drain_deliveries_per_sec,omitempty"`
	DrainRatio            float64 `json:"drain_to_bare_ratio,omitempty"`
	DrainCPUMsPerDelivery float64 `json:"drain_cpu_ms_per_delivery,omitempty"`
	DrainDuplicates       int64   `json:"drain_duplicates,omitempty"`
	Pending               int     `json:"pending,omitempty"`
	PendingRSSMB          float64 `json:"pending_rss_mb,omitempty"`
	PendingPeakRSSMB      float64 `json:"pending_peak_rss_mb,omitempty"`
}

func (r benchResults) print(w io.Writer) {
	fmt.Fprintf(w, "backend                          %s, %d node(s)\n", r.Backend, r.Nodes)
	fmt.Fprintf(w, "payload                          %d bytes\n", r.PayloadBytes)
	fmt.Fprintf(w, "events per request               %d\n", max(r.Batch, 1))
	fmt.Fprintf(w, "bare Go client (ceiling)         %.0f req/s\n", r.BarePerSec)
	fmt.Fprintf(w, "hookrelay events accepted        %.0f /s\n", r.AcceptedPerSec)
	fmt.Fprintf(w, "hookrelay deliveries completed   %.0f /s  (%.2fx the bare client)\n", r.DeliveredPerSec, r.Ratio)
	fmt.Fprintf(w, "CPU per delivery                 %.3f ms\n", r.CPUMsPerDelivery)
	if r.PostgresCPUMsPerDelivery > 0 {
		fmt.Fprintf(w, "PostgreSQL CPU per delivery      %.3f ms\n", r.PostgresCPUMsPerDelivery)
	}
	if len(r.PerNode) > 0 {
		fmt.Fprintf(w, "deliveries per node              %v\n", r.PerNode)
	}
	fmt.Fprintf(w, "duplicate deliveries             %d\n", r.Duplicates)
	if r.LatencyRate > 0 {
		fmt.Fprintf(w, "POST→first attempt @%d/s        p50 %.1f ms, p99 %.1f ms (the accept included)\n", r.LatencyRate, r.P50Ms, r.P99Ms)
	}
	if r.Drain > 0 {
		fmt.Fprintf(w, "drain of a %d backlog            %.0f deliveries/s  (%.2fx the bare client), %.3f CPU-ms each, %d duplicates\n",
			r.Drain, r.DrainPerSec, r.DrainRatio, r.DrainCPUMsPerDelivery, r.DrainDuplicates)
	}
	fmt.Fprintf(w, "peak RSS (largest node)          %.0f MB\n", r.PeakRSSMB)
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

// span returns the first arrival of the first message and the last
// arrival of any since the last reset.
func (s *benchSink) span() (first, last time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.first {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, s.last
}

// queueBacklog opens the SQLite store in dir, which no service has open,
// and accepts n events of payload into it, 64 at a time so that they
// commit in groups as under load.
func queueBacklog(ctx context.Context, dir string, payload []byte, n int) error {
	st, err := openStore(ctx, dir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				_, _, err := st.CreateEvent(ctx, &store.Event{Type: "bench.drain", Payload: payload}, time.Time{})
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	if err := st.Close(); err != nil && firstErr == nil {
		firstErr = err
	}
	if firstErr != nil {
		return fmt.Errorf("queue the backlog: %w", firstErr)
	}
	return nil
}

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
// the client's sending it to the first attempt's arrival at the sink. It
// counts the accept itself: the delivery may well arrive before the 202
// does, since the first attempt can start as soon as the event is
// committed.
func (s *benchSink) latencies(sentAt *sync.Map) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []float64
	sentAt.Range(func(k, v any) bool {
		if t, ok := s.first[k.(string)]; ok {
			out = append(out, float64(t.Sub(v.(time.Time)).Microseconds())/1000)
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
	return startServiceConfig(ctx, e, exe, serviceConfig{Dir: dir, Args: extra})
}

// serviceConfig says how to start a serve process.
type serviceConfig struct {
	Dir      string   // data directory
	Database string   // --database; "" for SQLite in Dir
	AdminKey string   // HOOKRELAY_ADMIN_KEY; "" for one derived from Dir
	Env      []string // more environment, NAME=value
	Args     []string // more flags
}

// startServiceConfig starts exe serve on a free loopback port as c says,
// and waits until it listens.
func startServiceConfig(ctx context.Context, e *env, exe string, c serviceConfig) (*service, error) {
	key := c.AdminKey
	if key == "" {
		key = "hr_bench_" + strings.ReplaceAll(filepath.Base(c.Dir), "-", "_") // the same on a restart
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", c.Dir, "--allow-private-networks", "--log-level", "warn"}
	if c.Database != "" {
		args = append(args, "--database", c.Database)
	}
	args = append(args, c.Args...)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(append(os.Environ(), "HOOKRELAY_ADMIN_KEY="+key), c.Env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start serve: %w", err)
	}
	s := &service{cmd: cmd, key: key, done: make(chan error, 1)}
	found := make(chan string, 1)
	scanned := make(chan struct{}) // closed when stderr is read to its end
	go func() {
		defer close(scanned)
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
		// A line too long for the scanner ends the scan; keep draining so
		// that the child never blocks writing to a full pipe.
		io.Copy(io.Discard, stderr)
	}()
	// done yields the exit status once, then reads as closed. Wait closes
	// the pipe, so it must not be called until the reader is done with it
	// (os/exec: "It is thus incorrect to call Wait before all reads from
	// the pipe have completed"); the pipe ends when the child exits.
	go func() {
		<-scanned
		s.done <- cmd.Wait()
		close(s.done)
	}()
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

// benchAPI calls the API of one node, or spreads events round-robin over
// several.
type benchAPI struct {
	base, key string
	bases     []string // every node's base URL, for sendEvents; nil: base
	client    *http.Client
	eventType string
	// batch is how many events sendEvents posts per request, when it
	// sends at full speed: above 1, to POST /api/v1/events/batch.
	batch int
}

func (a *benchAPI) post(ctx context.Context, path, body string) ([]byte, error) {
	return a.postTo(ctx, a.base, path, body)
}

func (a *benchAPI) postTo(ctx context.Context, base, path, body string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
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
// rate > 0, and records in sentAt, when it is not nil, the time each
// accepted event's request was sent. It returns how many were accepted.
func (a *benchAPI) sendEvents(ctx context.Context, payload []byte, n, conc, rate int, sentAt *sync.Map) (int, error) {
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
	bases := a.bases
	if len(bases) == 0 {
		bases = []string{a.base}
	}
	if a.batch > 1 && rate == 0 && sentAt == nil {
		return a.sendBatches(ctx, body, n, conc)
	}
	var next, accepted atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(n) && ctx.Err() == nil; i = next.Add(1) {
				if tick != nil {
					<-tick
				}
				sent := time.Now()
				b, err := a.postTo(ctx, bases[i%int64(len(bases))], "/api/v1/events", body)
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				accepted.Add(1)
				if sentAt != nil {
					sentAt.Store(eventID(b), sent)
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

// sendBatches sends n events of body, a.batch per request to POST
// /api/v1/events/batch, with conc workers, and returns how many were
// accepted.
func (a *benchAPI) sendBatches(ctx context.Context, body string, n, conc int) (int, error) {
	bases := a.bases
	if len(bases) == 0 {
		bases = []string{a.base}
	}
	var next, accepted atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req strings.Builder
			for ctx.Err() == nil {
				end := next.Add(int64(a.batch))
				start := end - int64(a.batch)
				if start >= int64(n) {
					return
				}
				k := int(min(end, int64(n)) - start)
				req.Reset()
				req.WriteString(`{"events":[`)
				for j := range k {
					if j > 0 {
						req.WriteByte(',')
					}
					req.WriteString(body)
				}
				req.WriteString("]}")
				b, err := a.postTo(ctx, bases[(start/int64(a.batch))%int64(len(bases))], "/api/v1/events/batch", req.String())
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				var r struct {
					Accepted int `json:"accepted"`
					Failed   int `json:"failed"`
				}
				if err := json.Unmarshal(b, &r); err != nil || r.Failed > 0 {
					once.Do(func() { firstErr = fmt.Errorf("batch: %d events refused (%v): %.200s", r.Failed, err, b) })
					return
				}
				accepted.Add(int64(r.Accepted))
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

// procCPUWithChildren returns the CPU time of a process and of its exited
// children, in milliseconds; 0 if it is gone.
func procCPUWithChildren(pid int) int64 {
	f := procStatFields(pid)
	if len(f) < 15 {
		return 0
	}
	var sum int64
	for _, s := range f[11:15] { // utime, stime, cutime, cstime
		v, _ := strconv.ParseInt(s, 10, 64)
		sum += v
	}
	return sum * 10
}

// procPPID returns the parent of a process, or 0.
func procPPID(pid int) int {
	f := procStatFields(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procStatFields returns the fields of /proc/PID/stat after the command
// name: state is [0], ppid [1], utime [11].
func procStatFields(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return nil
	}
	return strings.Fields(s[i+2:])
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
