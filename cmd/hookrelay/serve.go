package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/api"
	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/inbound"
	"github.com/hookrelay/hookrelay/internal/leader"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/storeopen"
	"github.com/hookrelay/hookrelay/internal/tracing"
	"github.com/hookrelay/hookrelay/internal/ui"
	"github.com/hookrelay/hookrelay/signature"
)

// Files in the data directory.
const (
	dbFileName     = "hookrelay.db"
	secretKeyFile  = "secret.key"
	sessionKeyFile = "session.key"
	defaultDataDir = "./hookrelay-data"
)

// HTTP server limits of serve.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 30 * time.Second
	healthTimeout     = 2 * time.Second
)

// serveConfig is the configuration of hookrelay serve, from flags, then
// the environment, then defaults.
type serveConfig struct {
	Addr                 string
	DataDir              string
	AllowPrivateNetworks bool
	LogFormat            string
	LogLevel             slog.Level
	RetrySchedule        durationList
	RequestTimeout       time.Duration
	// MaxEndpointTimeout and MaxRetrySchedule bound what an endpoint may
	// set as its own request timeout and retry schedule (its span).
	MaxEndpointTimeout time.Duration
	MaxRetrySchedule   time.Duration
	// EgressProxy is an HTTP CONNECT proxy for every delivery; "" none.
	EgressProxy     string
	egressProxy     *url.URL
	DisableAfter    time.Duration
	MaxPayloadBytes int64
	// MaxReplayRate caps a replay job's deliveries per second (and is
	// the rate of one that names none).
	MaxReplayRate      int
	OperatorURL        string
	OperatorSecret     string
	OperatorSecretFile string
	OperatorScheme     string
	InsecureCookies    bool
	// PortalFrameAncestors are the origins that may frame the tenant
	// portal (comma separated on the command line).
	PortalFrameAncestors string
	// Portal is the tenant portal's branding.
	Portal      ui.Branding
	portalPages string
	// DatabaseURL is a postgres:// URL; "" means SQLite in DataDir.
	DatabaseURL string
	// Retention is how long finished deliveries are kept; 0 keeps them.
	Retention time.Duration
	// TenantPayloadRetention is, per tenant, how long event payloads are
	// kept before they are erased (delivery.Config); each shorter than
	// Retention.
	TenantPayloadRetention tenantDurations
	// MetricsAddr, when set, is the listen address of /metrics, which the
	// main listener then does not serve.
	MetricsAddr string
	// EndpointConcurrency bounds the requests in flight to one endpoint,
	// from all the nodes of a PostgreSQL database together; 0 is the
	// engine's default.
	EndpointConcurrency int
	// NodeID names this node in the leases it takes; "" is
	// defaultNodeID(hostname, DataDir). See nodeIDHelp.
	NodeID string
	// SearchFields are the payload paths indexed for finding events
	// (--search-field, repeatable; HOOKRELAY_SEARCH_FIELDS, comma
	// separated).
	SearchFields searchFields
	// MaxEndpointsPerTenant bounds the endpoints of one tenant
	// (rules.Config): 0 is rules.DefaultMaxEndpointsPerTenant, negative
	// no bound.
	MaxEndpointsPerTenant int

	// From the environment only.
	SecretKey  []byte // HOOKRELAY_SECRET_KEY, decoded; nil: the key file
	SessionKey []byte // HOOKRELAY_SESSION_KEY, decoded; nil: the key file
	AdminKey   string // HOOKRELAY_ADMIN_KEY
}

// Validate checks the configuration, reading the operator secret file.
func (c *serveConfig) Validate() error {
	if c.Addr == "" {
		return usagef("--addr is empty")
	}
	if c.DataDir == "" {
		return usagef("--data is empty")
	}
	if err := checkDatabaseURL(c.DatabaseURL); err != nil {
		return usageError{err}
	}
	if c.Retention < 0 || (c.Retention > 0 && c.Retention < api.DefaultIdempotencyWindow) {
		// Retention prunes idempotency keys too.
		return usagef("--retention must be 0 (keep everything) or at least the idempotency window, %v", api.DefaultIdempotencyWindow)
	}
	for _, tenant := range slices.Sorted(maps.Keys(c.TenantPayloadRetention)) {
		d := c.TenantPayloadRetention[tenant]
		if err := rules.CheckTenant(tenant); err != nil {
			return usagef("--tenant-payload-retention: %v", err)
		}
		if d <= 0 || (c.Retention > 0 && d >= c.Retention) {
			return usagef("--tenant-payload-retention: %s=%v must be positive and shorter than --retention (%v)", tenant, d, c.Retention)
		}
	}
	if c.EndpointConcurrency < 0 {
		return usagef("--endpoint-concurrency must not be negative")
	}
	if len(c.NodeID) > maxNodeID || strings.ContainsFunc(c.NodeID, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return usagef("--node-id: at most %d characters, no control characters", maxNodeID)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usagef("--log-format %q: want text or json", c.LogFormat)
	}
	for _, d := range c.RetrySchedule {
		if d <= 0 {
			return usagef("--retry-schedule: delays must be positive, not %v", d)
		}
	}
	if c.RequestTimeout < 0 {
		return usagef("--request-timeout must not be negative")
	}
	if c.MaxEndpointTimeout < rules.MinEndpointTimeout {
		return usagef("--max-endpoint-timeout must be at least %v", rules.MinEndpointTimeout)
	}
	if c.MaxRetrySchedule <= 0 {
		return usagef("--max-retry-schedule must be positive")
	}
	if c.EgressProxy != "" {
		u, err := url.Parse(c.EgressProxy)
		if err != nil || u.Scheme != "http" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return usagef("--egress-proxy: want http://host:port of an HTTP CONNECT proxy")
		}
		c.egressProxy = u
	}
	if c.MaxPayloadBytes < 0 {
		return usagef("--max-payload-bytes must not be negative")
	}
	if c.MaxReplayRate < 0 {
		return usagef("--max-replay-rate must not be negative")
	}
	if c.AdminKey != "" {
		if err := api.CheckKey(c.AdminKey); err != nil {
			return usagef("HOOKRELAY_ADMIN_KEY: %v", err)
		}
	}
	if err := ui.CheckFrameAncestors(c.frameAncestors()); err != nil {
		return usagef("--portal-frame-ancestors: %v", err)
	}
	c.Portal.Pages = rules.SplitList(c.portalPages)
	if err := c.Portal.Check(); err != nil {
		return usagef("portal branding: %v", err)
	}
	if c.OperatorSecretFile != "" {
		if c.OperatorSecret != "" {
			return usagef("give --operator-secret or --operator-secret-file, not both")
		}
		b, err := os.ReadFile(c.OperatorSecretFile)
		if err != nil {
			return fmt.Errorf("read operator secret: %w", err)
		}
		c.OperatorSecret = strings.TrimSpace(string(b))
	}
	if c.OperatorURL == "" {
		if c.OperatorSecret != "" {
			return usagef("an operator secret needs --operator-url")
		}
		return nil
	}
	if u, err := url.Parse(c.OperatorURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--operator-url %q: want an absolute http or https URL", c.OperatorURL)
	}
	name := c.OperatorScheme
	if name == "" {
		name = "standard"
	}
	scheme, err := signature.Lookup(name)
	if err != nil {
		return usagef("--operator-scheme: %v", err)
	}
	if c.OperatorSecret != "" {
		if err := signature.ValidateSecret(scheme, c.OperatorSecret); err != nil {
			return usagef("operator secret: %v", err)
		}
	}
	return nil
}

// frameAncestors splits --portal-frame-ancestors.
func (c *serveConfig) frameAncestors() []string { return rules.SplitList(c.PortalFrameAncestors) }

// parseServeConfig reads serve's flags and environment.
func parseServeConfig(e *env, args []string) (*serveConfig, error) {
	c := &serveConfig{LogLevel: slog.LevelInfo}
	fs := newFlagSet("serve", e.stderr)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "listen address of /metrics alone (host:port), which the main listener then does not serve; empty: /metrics on --addr")
	fs.StringVar(&c.DataDir, "data", defaultDataDir, "directory of the SQLite database and the secret and session key files")
	fs.StringVar(&c.DatabaseURL, "database", "", "PostgreSQL database shared by several nodes (postgres://user:password@host/db); empty: SQLite in --data")
	fs.DurationVar(&c.Retention, "retention", defaultRetention, "delete finished deliveries, their attempts and events after this long; 0 keeps them")
	fs.Var(&c.TenantPayloadRetention, "tenant-payload-retention", "erase the payloads of a tenant's events after this long, keeping their metadata: tenant=duration, comma separated, such as acme=24h,beta=7d (each shorter than --retention)")
	fs.IntVar(&c.EndpointConcurrency, "endpoint-concurrency", 0, "requests in flight to one endpoint, from all nodes together when they share PostgreSQL (default 32)")
	fs.StringVar(&c.NodeID, "node-id", "", nodeIDHelp)
	fs.Var(&c.SearchFields, "search-field", "payload path to index for GET /api/v1/events?payload.PATH=VALUE, such as order.id; repeatable, or comma separated. Events stored before a path was declared are not found by it")
	fs.IntVar(&c.MaxEndpointsPerTenant, "max-endpoints-per-tenant", rules.DefaultMaxEndpointsPerTenant, "endpoints one tenant may have (a source's destinations aside); negative: no bound")
	fs.BoolVar(&c.AllowPrivateNetworks, "allow-private-networks", false, "let endpoints be on loopback, private and link-local addresses")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.Var(&c.RetrySchedule, "retry-schedule", "delays between attempts, comma separated, such as 5s,5m,30m,2h (default: the engine's, 8 attempts over about 27 h)")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", 0, "time limit of one delivery attempt (default 15s)")
	fs.DurationVar(&c.MaxEndpointTimeout, "max-endpoint-timeout", rules.DefaultMaxEndpointTimeout, "longest request timeout an endpoint may set for itself (leases last this plus 30s)")
	fs.DurationVar(&c.MaxRetrySchedule, "max-retry-schedule", rules.DefaultMaxRetrySchedule, "longest an endpoint's own retry schedule may span (the sum of its delays)")
	fs.StringVar(&c.EgressProxy, "egress-proxy", "", "HTTP CONNECT proxy every delivery goes through (http://host:port); the private-network guard still checks the targets")
	fs.DurationVar(&c.DisableAfter, "disable-after", 0, "disable an endpoint after it has failed for this long; negative: never (default 120h)")
	fs.Int64Var(&c.MaxPayloadBytes, "max-payload-bytes", api.DefaultMaxPayloadBytes, "largest event payload accepted")
	fs.IntVar(&c.MaxReplayRate, "max-replay-rate", api.DefaultMaxReplayRate, "most deliveries per second a replay job (POST /api/v1/replays) may queue; a job's own rate is capped by it")
	fs.StringVar(&c.OperatorURL, "operator-url", "", "URL that receives operational webhooks (endpoint disabled, delivery exhausted or recovered)")
	fs.StringVar(&c.OperatorSecret, "operator-secret", "", "secret that signs operational webhooks")
	fs.StringVar(&c.OperatorSecretFile, "operator-secret-file", "", "file holding the operator secret, kept out of ps and shell history")
	fs.StringVar(&c.OperatorScheme, "operator-scheme", "standard", "signature scheme of operational webhooks")
	fs.BoolVar(&c.InsecureCookies, "insecure-cookies", false, "let dashboard session cookies travel over plain http to non-loopback hosts (only behind a TLS-terminating proxy you trust)")
	fs.StringVar(&c.PortalFrameAncestors, "portal-frame-ancestors", "", "origins that may frame the tenant portal, comma separated (https://app.example.com); empty: none")
	fs.StringVar(&c.Portal.ProductName, "portal-name", "", "product name the tenant portal shows instead of hookrelay")
	fs.StringVar(&c.Portal.LogoURL, "portal-logo-url", "", "https URL of the logo the tenant portal shows")
	fs.StringVar(&c.Portal.AccentColor, "portal-accent", "", "accent colour of the tenant portal, #rgb or #rrggbb")
	fs.StringVar(&c.portalPages, "portal-pages", "", "pages the tenant portal shows, comma separated: endpoints, deliveries, verify (default all)")
	ef := envFlags{fs: fs}
	ef.bind("portal-frame-ancestors", "HOOKRELAY_PORTAL_FRAME_ANCESTORS")
	ef.bind("portal-name", "HOOKRELAY_PORTAL_NAME")
	ef.bind("portal-logo-url", "HOOKRELAY_PORTAL_LOGO_URL")
	ef.bind("portal-accent", "HOOKRELAY_PORTAL_ACCENT")
	ef.bind("portal-pages", "HOOKRELAY_PORTAL_PAGES")
	ef.bind("insecure-cookies", "HOOKRELAY_INSECURE_COOKIES")
	ef.bind("addr", "HOOKRELAY_ADDR")
	ef.bind("metrics-addr", "HOOKRELAY_METRICS_ADDR")
	ef.bind("data", "HOOKRELAY_DATA")
	ef.bind("database", "HOOKRELAY_DATABASE_URL")
	ef.bind("retention", "HOOKRELAY_RETENTION")
	ef.bind("tenant-payload-retention", "HOOKRELAY_TENANT_PAYLOAD_RETENTION")
	ef.bind("endpoint-concurrency", "HOOKRELAY_ENDPOINT_CONCURRENCY")
	ef.bind("node-id", "HOOKRELAY_NODE_ID")
	ef.bind("search-field", "HOOKRELAY_SEARCH_FIELDS")
	ef.bind("max-endpoints-per-tenant", "HOOKRELAY_MAX_ENDPOINTS_PER_TENANT")
	ef.bind("allow-private-networks", "HOOKRELAY_ALLOW_PRIVATE_NETWORKS")
	ef.bind("log-format", "HOOKRELAY_LOG_FORMAT")
	ef.bind("log-level", "HOOKRELAY_LOG_LEVEL")
	ef.bind("retry-schedule", "HOOKRELAY_RETRY_SCHEDULE")
	ef.bind("request-timeout", "HOOKRELAY_REQUEST_TIMEOUT")
	ef.bind("max-endpoint-timeout", "HOOKRELAY_MAX_ENDPOINT_TIMEOUT")
	ef.bind("max-retry-schedule", "HOOKRELAY_MAX_RETRY_SCHEDULE")
	ef.bind("egress-proxy", "HOOKRELAY_EGRESS_PROXY")
	ef.bind("disable-after", "HOOKRELAY_DISABLE_AFTER")
	ef.bind("max-payload-bytes", "HOOKRELAY_MAX_PAYLOAD_BYTES")
	ef.bind("max-replay-rate", "HOOKRELAY_MAX_REPLAY_RATE")
	ef.bind("operator-url", "HOOKRELAY_OPERATOR_URL")
	ef.bind("operator-secret", "HOOKRELAY_OPERATOR_SECRET")
	ef.bind("operator-secret-file", "HOOKRELAY_OPERATOR_SECRET_FILE")
	ef.bind("operator-scheme", "HOOKRELAY_OPERATOR_SCHEME")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay serve [flags]")
		fmt.Fprintln(fs.Output(), `
Runs the webhook service: the API under /api/v1, the delivery engine,
/healthz and /metrics (on --metrics-addr instead, when set: keep it off a
public listener). Data lives in DIR/hookrelay.db, or, with --database,
in PostgreSQL, where any number of nodes can share it. Endpoint secrets are
encrypted with the key in HOOKRELAY_SECRET_KEY (base64, 32 bytes) or, without
it, DIR/secret.key, created on first start; dashboard sessions are signed
with HOOKRELAY_SESSION_KEY or DIR/session.key. Nodes that share a database
must all have the same two keys: set both variables on every node. On first
start an admin API key is created and printed once; set HOOKRELAY_ADMIN_KEY
to choose it instead (on every node, when several start at once).

OpenTelemetry traces are sent when OTEL_EXPORTER_OTLP_ENDPOINT (or
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_TRACES_EXPORTER=otlp) is set,
by OTLP over HTTP; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn
them off. GET /api/v1/openapi.yaml serves the API's description, without
an API key.

Each flag may also be set by the environment variable named in its help; a
flag on the command line wins.`)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if err := ef.apply(e.getenv); err != nil {
		return nil, err
	}
	if s := e.getenv("HOOKRELAY_SECRET_KEY"); s != "" {
		k, err := secretbox.ParseKey(s)
		if err != nil {
			return nil, usagef("HOOKRELAY_SECRET_KEY: %v", err)
		}
		c.SecretKey = k
	}
	if s := e.getenv("HOOKRELAY_SESSION_KEY"); s != "" {
		k, err := secretbox.ParseKey(s)
		if err != nil {
			return nil, usagef("HOOKRELAY_SESSION_KEY: %v", err)
		}
		c.SessionKey = k
	}
	c.AdminKey = e.getenv("HOOKRELAY_ADMIN_KEY")
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func runServe(ctx context.Context, e *env, args []string) error {
	cfg, err := parseServeConfig(e, args)
	if err != nil {
		return err
	}
	// HOOKRELAY_CPUPROFILE names a file that receives a CPU profile of the
	// whole run, written at shutdown: for finding where time goes under
	// load (go tool pprof).
	if path := e.getenv("HOOKRELAY_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fmt.Errorf("HOOKRELAY_CPUPROFILE: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("HOOKRELAY_CPUPROFILE: %w", err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	return serve(ctx, e, cfg)
}

// maxNodeID bounds the length of --node-id.
const maxNodeID = 200

// nodeIDHelp is the help of --node-id.
const nodeIDHelp = "this node's stable identity in the leases it takes, unique among the nodes of a PostgreSQL database: " +
	"restarted after a crash, a node takes back its own leases at once (default: hostname:absolute data directory)"

// defaultNodeID is the node id of a node started without --node-id: its
// host name and its data directory, stable across restarts on one machine,
// and distinct for two nodes on one machine unless they share a data
// directory (which SQLite refuses, and PostgreSQL nodes refuse at start,
// the id being in use).
func defaultNodeID(host, dataDir string) string {
	if abs, err := filepath.Abs(dataDir); err == nil {
		dataDir = abs
	}
	id := host + ":" + dataDir
	if len(id) > maxNodeID {
		// A long path: keep the host and a digest of the rest.
		sum := sha256.Sum256([]byte(dataDir))
		id = host + ":" + hex.EncodeToString(sum[:8])
	}
	return id
}

// newLogger returns the slog logger cfg asks for, writing to w.
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens (creating if need be) the SQLite store in dataDir, with
// secrets sealed by key, or by the key file in dataDir when key is nil.
func openStore(ctx context.Context, dataDir string, key []byte, logger *slog.Logger) (store.Store, error) {
	return database{DataDir: dataDir}.open(ctx, key, logger)
}

// defaultRetention is how long serve keeps finished deliveries by default.
const defaultRetention = 30 * 24 * time.Hour

// checkDatabaseURL accepts "" (SQLite) and postgres:// or postgresql://
// URLs. The URL is not echoed: it may hold a password.
func checkDatabaseURL(dsn string) error {
	if dsn == "" || storeopen.IsPostgresURL(dsn) {
		return nil
	}
	return errors.New("--database: want a postgres:// or postgresql:// URL")
}

// redactURL returns dsn fit for logs: the password, in the user
// information or a password parameter, replaced by xxxxx.
func redactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// database is where a command's data lives: the PostgreSQL database URL
// names, or, when URL is "", the SQLite database in DataDir.
type database struct {
	URL     string
	DataDir string
	// NodeID names the node in the leases it takes (serve's --node-id);
	// "" for the commands that claim nothing.
	NodeID string
	// SearchFields are the payload paths the store indexes (serve's
	// --search-field; import's HOOKRELAY_SEARCH_FIELDS).
	SearchFields []string
}

// String describes the database for logs and messages, without a
// password.
func (d database) String() string {
	if d.URL != "" {
		return redactURL(d.URL)
	}
	return filepath.Join(d.DataDir, dbFileName)
}

// config is the storeopen.Config of d, without a Cipher.
func (d database) config(logger *slog.Logger) storeopen.Config {
	return storeopen.Config{DatabaseURL: d.URL, DataDir: d.DataDir, Logger: logger, NodeID: d.NodeID, SearchFields: d.SearchFields}
}

// open opens the store, with secrets sealed by key (nil: the key file in
// DataDir, created if missing). What differs between the backends the
// caller asks the store (Shared, Locker).
func (d database) open(ctx context.Context, key []byte, logger *slog.Logger) (store.Store, error) {
	if key == nil {
		if err := os.MkdirAll(d.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
		var err error
		if key, err = secretbox.LoadOrCreateKeyFile(filepath.Join(d.DataDir, secretKeyFile)); err != nil {
			return nil, err
		}
	}
	box, err := secretbox.New(key)
	if err != nil {
		return nil, err
	}
	cfg := d.config(logger)
	cfg.Cipher = box
	st, err := storeopen.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d, err)
	}
	return st, nil
}

// leaderKey is the advisory lock key of the installation in the database
// dsn names: one per schema, so that installations sharing a database in
// different schemas (search_path) each elect a leader.
func leaderKey(dsn string) int64 {
	var schema string
	if c, err := pgx.ParseConfig(dsn); err == nil {
		schema = c.RuntimeParams["search_path"]
	}
	return leader.Key(schema)
}

// checkSecretKey reads one endpoint, which opens its secrets: a node
// started with another secret key than the one that sealed them fails
// here, at start, instead of at every delivery.
func checkSecretKey(ctx context.Context, st store.Store) error {
	if _, _, err := st.ListEndpoints(ctx, store.EndpointFilter{Page: store.Page{Limit: 1}}); err != nil {
		return fmt.Errorf("read endpoints (is HOOKRELAY_SECRET_KEY the key the secrets were sealed with? every node sharing a database needs the same one): %w", err)
	}
	return nil
}

// ensureAdminKey creates the first API key when the store has none: the
// operator's HOOKRELAY_ADMIN_KEY, or a generated one printed once to w.
func ensureAdminKey(ctx context.Context, st store.Store, adminKey string, w io.Writer) error {
	n, err := st.CountAPIKeys(ctx)
	if err != nil {
		return fmt.Errorf("count api keys: %w", err)
	}
	if n > 0 {
		return nil
	}
	k, key, err := api.NewAPIKey("admin", adminKey, time.Now())
	if err != nil {
		return fmt.Errorf("admin key: %w", err)
	}
	if err := st.CreateAPIKey(ctx, k); err != nil {
		if adminKey != "" && errors.Is(err, store.ErrConflict) {
			// Another node sharing the database created the same key
			// at the same moment.
			return nil
		}
		return fmt.Errorf("create admin key: %w", err)
	}
	if adminKey != "" {
		fmt.Fprintf(w, "hookrelay: created the admin API key %s from HOOKRELAY_ADMIN_KEY\n", k.ID)
		return nil
	}
	fmt.Fprintf(w, "hookrelay: created the admin API key %s; it is shown only this once, keep it:\n\n    %s\n\n", k.ID, key)
	return nil
}

// serve runs the service until ctx is done, then shuts it down: the HTTP
// server first (requests in flight get shutdownTimeout), then the engine,
// then the store.
func serve(ctx context.Context, e *env, cfg *serveConfig) (err error) {
	logger := newLogger(e.stderr, cfg.LogFormat, cfg.LogLevel)
	host, _ := os.Hostname()
	nodeID := cfg.NodeID
	if nodeID == "" {
		nodeID = defaultNodeID(host, cfg.DataDir)
	}
	db := database{URL: cfg.DatabaseURL, DataDir: cfg.DataDir, NodeID: nodeID, SearchFields: cfg.SearchFields}
	guard, err := newKeyGuard(cfg) // before open, which creates a missing key file
	if err != nil {
		return err
	}
	st, err := db.open(ctx, cfg.SecretKey, logger)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := st.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
		}
	}()
	if err := guard.check(ctx, st); err != nil {
		return err
	}
	if err := checkSecretKey(ctx, st); err != nil {
		return err
	}
	if err := ensureAdminKey(ctx, st, cfg.AdminKey, e.stderr); err != nil {
		return err
	}
	// Operational webhooks go to the operator endpoint, which the store
	// writes them for in the transaction of what they report.
	var op *delivery.Operator
	if cfg.OperatorURL != "" {
		op = &delivery.Operator{URL: cfg.OperatorURL, Scheme: cfg.OperatorScheme}
		if cfg.OperatorSecret != "" {
			op.Secrets = []string{cfg.OperatorSecret}
		}
	}
	if err := delivery.SyncOperator(ctx, st, op, time.Now()); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The periodic jobs run on one node: the holder of an advisory lock on
	// PostgreSQL, the only node on SQLite.
	lcfg := &leader.Config{Logger: logger}
	if l := st.Locker(); l != nil { // nil on SQLite: the one node leads
		lcfg.Locker, lcfg.Key = l, leaderKey(cfg.DatabaseURL)
	}
	elector := leader.New(lcfg)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "hookrelay", Name: "leader",
		Help: "1 if this node runs the periodic jobs (auto-disable, retention), else 0.",
	}, func() float64 {
		if elector.Leading() {
			return 1
		}
		return 0
	}))
	// OpenTelemetry tracing, when the OTEL_* environment asks for it.
	tr, err := tracing.New(ctx, &tracing.Config{Getenv: e.getenv, Version: buildVersion()})
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
		defer cancel()
		if terr := tr.Shutdown(sctx); terr != nil {
			logger.Warn("tracing: could not export the last spans", "error", terr)
		}
	}()
	retention := cfg.Retention
	if retention == 0 {
		retention = -1 // the engine's "never"
	}
	dcfg := delivery.Config{
		Store:                  st,
		Logger:                 logger,
		NodeID:                 nodeID,
		AllowPrivateNetworks:   cfg.AllowPrivateNetworks,
		RetrySchedule:          cfg.RetrySchedule,
		RequestTimeout:         cfg.RequestTimeout,
		MaxEndpointTimeout:     cfg.MaxEndpointTimeout,
		EgressProxy:            cfg.egressProxy,
		DisableAfter:           cfg.DisableAfter,
		Retention:              retention,
		TenantPayloadRetention: cfg.TenantPayloadRetention,
		EndpointConcurrency:    cfg.EndpointConcurrency,
		Leader:                 elector,
		Registerer:             reg,
	}
	var apiTracer api.Tracer
	if tr != nil {
		dcfg.Tracer, apiTracer = tr, tr
		logger.Info("tracing on: spans go to the OTLP endpoint of OTEL_EXPORTER_OTLP_*")
	}
	engine, err := delivery.New(dcfg)
	if err != nil {
		return fmt.Errorf("delivery engine: %w", err)
	}
	// Replay jobs run in the background, one node at a time per job (a
	// lease under this node's id, so that a restart resumes its own).
	replayer, err := delivery.NewReplayer(&delivery.ReplayerConfig{Store: st, Logger: logger, NodeID: nodeID, Notify: engine.Notify})
	if err != nil {
		return fmt.Errorf("replayer: %w", err)
	}

	sessionKey := cfg.SessionKey
	if sessionKey == nil {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
		if sessionKey, err = secretbox.LoadOrCreateKeyFile(filepath.Join(cfg.DataDir, sessionKeyFile)); err != nil {
			return fmt.Errorf("dashboard session key: %w", err)
		}
	}
	// Tenant tokens are signed with a key derived from the session key: the
	// dashboard opens them (portal links) and the API accepts them.
	tokenKey := access.DeriveTokenKey(sessionKey)
	// One event catalog: a type the dashboard writes applies at once to
	// the API's events, as one the API writes does.
	cat, err := catalog.New(&catalog.Config{Store: st})
	if err != nil {
		return fmt.Errorf("event catalog: %w", err)
	}
	dash, err := ui.New(ui.Config{
		Store:                st,
		Catalog:              cat,
		Notifier:             engine,
		Logger:               logger,
		SessionKey:           sessionKey,
		AllowPrivateNetworks: cfg.AllowPrivateNetworks,
		MaxEndpointTimeout:   cfg.MaxEndpointTimeout,
		MaxRetrySchedule:     cfg.MaxRetrySchedule,
		// Browsers keep Secure cookies for http://127.0.0.1 and localhost.
		Secure:                !cfg.InsecureCookies,
		BasePath:              "/ui",
		MaxEndpointsPerTenant: cfg.MaxEndpointsPerTenant,
		Leader:                elector, // prunes expired sessions (Run) on one node

		FrameAncestors: cfg.frameAncestors(),
		Branding:       cfg.Portal,
		TokenKey:       tokenKey,
	})
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	apiHandler, err := api.New(api.Config{
		Store:                 st,
		Catalog:               cat,
		Notifier:              engine,
		Logger:                logger,
		AllowPrivateNetworks:  cfg.AllowPrivateNetworks,
		MaxEndpointTimeout:    cfg.MaxEndpointTimeout,
		MaxRetrySchedule:      cfg.MaxRetrySchedule,
		MaxPayloadBytes:       cfg.MaxPayloadBytes,
		PortalLinks:           dash,
		MaxEndpointsPerTenant: cfg.MaxEndpointsPerTenant,
		TokenKey:              tokenKey,
		Tracer:                apiTracer,
		MaxReplayRate:         cfg.MaxReplayRate,
		Replayer:              replayer,
	})
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	gateway, err := inbound.New(inbound.Config{
		Store:        st,
		Notifier:     engine,
		Logger:       logger,
		MaxBodyBytes: cfg.MaxPayloadBytes,
		Registerer:   reg,
		Leader:       elector, // prunes old rejections (Run) on one node
	})
	if err != nil {
		return fmt.Errorf("inbound gateway: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", apiHandler)
	mux.Handle("POST /in/{source}", gateway) // inbound webhooks, verified by their source's scheme
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelError)})
	metrics, err := listenMetrics(cfg.MetricsAddr, metricsHandler, logger)
	if err != nil {
		return err
	}
	if metrics == nil {
		mux.Handle("GET /metrics", metricsHandler)
	}
	mux.HandleFunc("GET /healthz", healthz(st))
	mux.Handle("/ui/", dash)
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		if metrics != nil {
			metrics.ln.Close()
		}
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The engine outlives the server's shutdown: it stops once no more
	// events can arrive.
	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	failed := make(chan error, 3)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := engine.Run(engineCtx); err != nil && !errors.Is(err, context.Canceled) {
			failed <- fmt.Errorf("delivery engine: %w", err)
		}
	})
	// The election stops with the engine, whose periodic jobs it serves,
	// and resigns, so that another node takes over at once.
	wg.Go(func() { elector.Run(engineCtx) })
	wg.Go(func() { gateway.Run(engineCtx) })
	wg.Go(func() { dash.Run(engineCtx) })
	wg.Go(func() { replayer.Run(engineCtx) })
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			failed <- fmt.Errorf("http server: %w", err)
		}
	})
	if metrics != nil {
		wg.Go(func() {
			if err := metrics.srv.Serve(metrics.ln); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("metrics server: %w", err)
			}
		})
		fmt.Fprintf(e.stderr, "metrics on http://%s/metrics\n", metrics.ln.Addr())
	}
	addr := ln.Addr().String()
	logger.Info("hookrelay serving", "addr", addr, "database", db.String(), "node_id", nodeID, "allow_private_networks", cfg.AllowPrivateNetworks)
	if cfg.egressProxy != nil {
		logger.Info("deliveries go through an egress proxy", "proxy", cfg.egressProxy.Redacted())
	}
	fmt.Fprintf(e.stderr, "listening on http://%s\n", addr)

	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-failed:
		logger.Error("stopping after a failure", "error", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		err = errors.Join(err, fmt.Errorf("shut down http server: %w", serr))
		srv.Close()
	}
	if metrics != nil {
		if serr := metrics.srv.Shutdown(sctx); serr != nil {
			err = errors.Join(err, fmt.Errorf("shut down metrics server: %w", serr))
			metrics.srv.Close()
		}
	}
	stopEngine()
	wg.Wait()
	close(failed)
	for ferr := range failed {
		err = errors.Join(err, ferr)
	}
	return err
}

// healthz answers 200 {"status":"ok","store":"ok","version":...} when the
// store answers and can write; 503 with "store":"cannot_write" when it
// answers but a write failed lately for want of space or a writable
// database (store.HealthChecker), and 503 with "store":"unavailable" when
// it does not answer. version is buildVersion's.
func healthz(st store.Store) http.HandlerFunc {
	ver := healthzVersion()
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		check := st.Ping
		if hc, ok := st.(store.HealthChecker); ok {
			check = hc.Health
		}
		if err := check(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			if errors.Is(err, store.ErrUnavailable) {
				fmt.Fprintf(w, `{"status":"unavailable","store":"cannot_write","version":%s}`+"\n", ver)
				return
			}
			fmt.Fprintf(w, `{"status":"unavailable","store":"unavailable","version":%s}`+"\n", ver)
			return
		}
		fmt.Fprintf(w, `{"status":"ok","store":"ok","version":%s}`+"\n", ver)
	}
}

// durationList is a flag.Value of comma-separated durations.
type durationList []time.Duration

func (d *durationList) String() string {
	if d == nil {
		return ""
	}
	s := make([]string, len(*d))
	for i, v := range *d {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func (d *durationList) Set(v string) error {
	var out durationList
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		x, err := time.ParseDuration(p)
		if err != nil {
			return err
		}
		out = append(out, x)
	}
	*d = out
	return nil
}

// tenantDurations is a flag.Value of comma-separated tenant=duration
// pairs; a duration is time.ParseDuration's or a whole number of days
// ("7d").
type tenantDurations map[string]time.Duration

func (t *tenantDurations) String() string {
	if t == nil {
		return ""
	}
	var s []string
	for _, k := range slices.Sorted(maps.Keys(*t)) {
		s = append(s, k+"="+(*t)[k].String())
	}
	return strings.Join(s, ",")
}

func (t *tenantDurations) Set(v string) error {
	out := tenantDurations{}
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		tenant, ds, ok := strings.Cut(p, "=")
		if !ok {
			return fmt.Errorf("%q is not tenant=duration", p)
		}
		var d time.Duration
		if days, isDays := strings.CutSuffix(ds, "d"); isDays {
			n, err := strconv.Atoi(days)
			if err != nil {
				return fmt.Errorf("%q: %w", p, err)
			}
			d = time.Duration(n) * 24 * time.Hour
		} else {
			var err error
			if d, err = time.ParseDuration(ds); err != nil {
				return fmt.Errorf("%q: %w", p, err)
			}
		}
		if _, dup := out[tenant]; dup {
			return fmt.Errorf("tenant %q is given twice", tenant)
		}
		out[tenant] = d
	}
	*t = out
	return nil
}

// envFlags gives flags of a FlagSet an environment variable to fall back on.
type envFlags struct {
	fs   *flag.FlagSet
	vars [][2]string // flag name, variable
}

// bind makes the flag name fall back on the variable env, and says so in
// its help.
func (ef *envFlags) bind(name, env string) {
	f := ef.fs.Lookup(name)
	f.Usage += " (env " + env + ")"
	ef.vars = append(ef.vars, [2]string{name, env})
}

// apply sets every bound flag that was not on the command line from its
// variable, if that is set. The value is not echoed in errors: it may be a
// secret.
func (ef *envFlags) apply(getenv func(string) string) error {
	set := make(map[string]bool)
	ef.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, v := range ef.vars {
		if set[v[0]] {
			continue
		}
		if val := getenv(v[1]); val != "" {
			if err := ef.fs.Set(v[0], val); err != nil {
				return usagef("invalid %s: %v", v[1], err)
			}
		}
	}
	return nil
}

// searchFields is the value of --search-field: repeatable, each value
// a path or a comma-separated list of them, checked by store.SearchPaths.
type searchFields []string

func (f *searchFields) String() string { return strings.Join(*f, ",") }

func (f *searchFields) Set(v string) error {
	paths, err := store.SearchPaths(append(append([]string(nil), *f...), strings.Split(v, ",")...))
	if err != nil {
		return err
	}
	*f = paths
	return nil
}
