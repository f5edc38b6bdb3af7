package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// endpointOut is what the CLI reads of an endpoint response.
type endpointOut struct {
	ID             string          `json:"id"`
	Tenant         string          `json:"tenant"`
	URL            string          `json:"url"`
	Description    string          `json:"description"`
	Scheme         string          `json:"scheme"`
	EventTypes     []string        `json:"event_types"`
	Filter         json.RawMessage `json:"filter"`
	Disabled       bool            `json:"disabled"`
	DisabledReason string          `json:"disabled_reason"`
	FIFO           bool            `json:"fifo"`
	RateLimit      float64         `json:"rate_limit"`
	FailingSince   *time.Time      `json:"failing_since"`
	Secrets        []struct {
		Secret    string     `json:"secret"`
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"secrets"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// The delivery settings, masked by the server.
	Headers map[string]string `json:"headers"`
	Auth    *struct {
		Type     string `json:"type"`
		Username string `json:"username"`
		TokenURL string `json:"token_url"`
		ClientID string `json:"client_id"`
	} `json:"auth"`
	ClientTLS *struct {
		CertPEM string `json:"cert_pem"`
		CAPEM   string `json:"ca_pem"`
	} `json:"client_tls"`
	TimeoutSeconds       float64   `json:"timeout_seconds"`
	RetryScheduleSeconds []float64 `json:"retry_schedule_seconds"`
}

// settingsRows are the name-value lines of ep's delivery settings.
func (ep *endpointOut) settingsRows() [][]string {
	var rows [][]string
	for _, k := range slices.Sorted(maps.Keys(ep.Headers)) {
		rows = append(rows, []string{"header " + k, ep.Headers[k]})
	}
	if a := ep.Auth; a != nil {
		v := a.Type
		switch a.Type {
		case "basic":
			v += " (user " + a.Username + ")"
		case "oauth2":
			v += " (client " + a.ClientID + " at " + a.TokenURL + ")"
		}
		rows = append(rows, []string{"auth", v})
	}
	if t := ep.ClientTLS; t != nil {
		v := "CA bundle only"
		if t.CertPEM != "" {
			v = "client certificate"
			if t.CAPEM != "" {
				v += " and CA bundle"
			}
		}
		rows = append(rows, []string{"tls", v})
	}
	timeout := "server's"
	if ep.TimeoutSeconds > 0 {
		timeout = (time.Duration(ep.TimeoutSeconds * float64(time.Second))).String()
	}
	rows = append(rows, []string{"timeout", timeout})
	sched := "server's"
	if ep.RetryScheduleSeconds != nil {
		parts := make([]string, len(ep.RetryScheduleSeconds))
		for i, s := range ep.RetryScheduleSeconds {
			parts[i] = (time.Duration(s * float64(time.Second))).String()
		}
		sched = orDash(strings.Join(parts, ","))
	}
	return append(rows, []string{"retry schedule", sched})
}

func (ep *endpointOut) state() string {
	if ep.Disabled {
		return "disabled (" + ep.DisabledReason + ")"
	}
	return "enabled"
}

func (ep *endpointOut) filter() string {
	if len(ep.Filter) == 0 || string(ep.Filter) == "null" {
		return "-"
	}
	return string(ep.Filter)
}

func (ep *endpointOut) eventTypes() string {
	if len(ep.EventTypes) == 0 {
		return "*"
	}
	return strings.Join(ep.EventTypes, ",")
}

var endpointCommands = map[string]subcommand{
	"create":        {"create an endpoint; prints its secret once", runEndpointsCreate},
	"list":          {"list endpoints", runEndpointsList},
	"get":           {"show an endpoint", runEndpointsGet},
	"update":        {"change an endpoint", runEndpointsUpdate},
	"delete":        {"delete an endpoint, canceling its pending deliveries", runEndpointsDelete},
	"rotate-secret": {"make a new secret; the old one keeps signing for an overlap", runEndpointsRotate},
	"reveal-secret": {"print an endpoint's current secrets", runEndpointsReveal},
	"test-filter":   {"tell whether a payload matches an endpoint's payload filter", runEndpointsTestFilter},
	"stats":         {"attempts of the last hour and day: outcomes, success rate, latency percentiles", runEndpointsStats},
}

func runEndpoints(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "endpoints", endpointCommands,
		[]string{"create", "list", "get", "update", "delete", "rotate-secret", "reveal-secret", "test-filter", "stats"}, args)
}

// endpointFields are the flags create and update share.
type endpointFields struct {
	url, scheme, customScheme, secret, secretFile, tenant, description, filter string
	eventTypes                                                                 stringList
	fifo                                                                       bool
	rateLimit                                                                  float64
	settings                                                                   settingsFlags
}

// Which delivery settings flags endpointFields.define adds.
const (
	noSettings     = iota // a source's destinations
	createSettings        // endpoints create
	updateSettings        // endpoints update: also the flags that clear
)

func (f *endpointFields) define(fs *flag.FlagSet, settings int) {
	fs.StringVar(&f.url, "url", "", "URL that receives the webhooks")
	fs.StringVar(&f.scheme, "scheme", "", "signature scheme: standard (default), github, stripe, shopify, slack, plextrac, teak, or custom")
	fs.StringVar(&f.customScheme, "custom-scheme", "", "custom scheme as JSON, or @FILE to read it from FILE (implies --scheme custom)")
	fs.StringVar(&f.secret, "secret", "", "signing secret (default: generated for the scheme)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the signing secret")
	fs.Var(&f.eventTypes, "event-type", "event type to receive, repeatable; \"invoice.*\" matches a prefix (default: all)")
	fs.StringVar(&f.filter, "filter", "", `payload filter as JSON, or @FILE to read it from FILE, such as '{"amount": {"$gte": 100}}'; on update, "" or null removes it`)
	fs.StringVar(&f.description, "description", "", "description")
	fs.BoolVar(&f.fifo, "fifo", false, "deliver strictly one at a time in event order")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "at most this many deliveries per second (0: no limit)")
	if settings != noSettings {
		f.settings.define(fs, settings == updateSettings)
	}
}

// body returns the request fields for the flags in set (all when set is nil).
func (f *endpointFields) body(e *env, set map[string]bool) (map[string]any, error) {
	has := func(name string) bool { return set == nil || set[name] }
	b := map[string]any{}
	if has("url") && f.url != "" {
		b["url"] = f.url
	}
	if has("scheme") && f.scheme != "" {
		b["scheme"] = f.scheme
	}
	if has("custom-scheme") && f.customScheme != "" {
		raw := []byte(f.customScheme)
		if name, ok := strings.CutPrefix(f.customScheme, "@"); ok {
			var err error
			if raw, err = os.ReadFile(name); err != nil {
				return nil, fmt.Errorf("read custom scheme: %w", err)
			}
		}
		if !json.Valid(raw) {
			return nil, usagef("--custom-scheme is not valid JSON")
		}
		b["custom_scheme"] = json.RawMessage(raw)
		if f.scheme == "" {
			b["scheme"] = "custom"
		}
	}
	secret, err := secretFromFlags(e, f.secret, f.secretFile, has("secret"), has("secret-file"))
	if err != nil {
		return nil, err
	}
	if secret != "" {
		b["secret"] = secret
	}
	if has("filter") && (set != nil || f.filter != "") {
		raw, err := jsonFlag("--filter", f.filter)
		if err != nil {
			return nil, err
		}
		b["filter"] = raw
	}
	if has("event-type") && len(f.eventTypes) > 0 {
		b["event_types"] = []string(f.eventTypes)
	}
	if has("tenant") && f.tenant != "" {
		b["tenant"] = f.tenant
	}
	if has("description") && (set != nil || f.description != "") {
		b["description"] = f.description
	}
	if has("fifo") && (set != nil || f.fifo) {
		b["fifo"] = f.fifo
	}
	if has("rate-limit") && (set != nil || f.rateLimit != 0) {
		b["rate_limit"] = f.rateLimit
	}
	if err := f.settings.add(b, set); err != nil {
		return nil, err
	}
	return b, nil
}

// jsonFlag returns the JSON of a flag's value: the value itself, or the
// contents of FILE for @FILE; JSON null for "".
func jsonFlag(name, v string) (json.RawMessage, error) {
	raw := []byte(v)
	if file, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if raw, err = os.ReadFile(file); err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		return json.RawMessage("null"), nil
	}
	if !json.Valid(raw) {
		return nil, usagef("%s is not valid JSON", name)
	}
	return json.RawMessage(raw), nil
}

// secretFromFlags returns the secret of --secret or --secret-file (each
// considered only when given).
func secretFromFlags(e *env, secret, file string, useSecret, useFile bool) (string, error) {
	if useSecret && useFile && secret != "" && file != "" {
		return "", usagef("give --secret or --secret-file, not both")
	}
	if useFile && file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read secret: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if useSecret {
		return secret, nil
	}
	return "", nil
}

func runEndpointsCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("endpoints create", e.stderr)
	var f endpointFields
	f.define(fs, createSettings)
	fs.StringVar(&f.tenant, "tenant", "", "tenant: the endpoint receives only this tenant's events")
	disabled := fs.Bool("disabled", false, "create it disabled")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if f.url == "" {
		return usagef("--url is required")
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	body, err := f.body(e, nil)
	if err != nil {
		return err
	}
	if *disabled {
		body["disabled"] = true
	}
	var ep endpointOut
	raw, err := c.call(ctx, "POST", "/api/v1/endpoints", body, &ep)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	if err := printEndpoint(e.stdout, &ep); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "The secret is shown once; `hookrelay endpoints reveal-secret "+ep.ID+"` shows it again.")
	return nil
}

// printEndpoint writes one endpoint as name-value lines.
func printEndpoint(w io.Writer, ep *endpointOut) error {
	rows := [][]string{
		{"id", ep.ID},
		{"url", ep.URL},
		{"scheme", ep.Scheme},
		{"tenant", orDash(ep.Tenant)},
		{"event types", ep.eventTypes()},
		{"filter", ep.filter()},
		{"state", ep.state()},
		{"fifo", strconv.FormatBool(ep.FIFO)},
		{"rate limit", strconv.FormatFloat(ep.RateLimit, 'g', -1, 64)},
		{"description", orDash(ep.Description)},
		{"failing since", fmtTime(ep.FailingSince)},
		{"created", fmtTime(&ep.CreatedAt)},
		{"updated", fmtTime(&ep.UpdatedAt)},
	}
	rows = append(rows, ep.settingsRows()...)
	for i, s := range ep.Secrets {
		v := "created " + fmtTime(&s.CreatedAt)
		if s.ExpiresAt != nil {
			v += ", stops signing " + fmtTime(s.ExpiresAt)
		}
		rows = append(rows, []string{fmt.Sprintf("secret %d", i+1), v})
	}
	if ep.Secret != "" {
		rows = append(rows, []string{"secret", ep.Secret})
	}
	return table(w, nil, rows)
}

func runEndpointsList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("endpoints list", e.stderr)
	tenant := fs.String("tenant", "", "only this tenant's endpoints")
	pf := addPageFlags(fs, "endpoints")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	q := url.Values{}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "tenant" {
			q.Set("tenant", *tenant)
		}
	})
	return listPage(ctx, e, c, cf, pf, "/api/v1/endpoints", q,
		[]string{"ID", "URL", "SCHEME", "TENANT", "EVENT TYPES", "STATE"},
		func(ep endpointOut) []string {
			return []string{ep.ID, ep.URL, ep.Scheme, orDash(ep.Tenant), ep.eventTypes(), ep.state()}
		})
}

// setPage adds limit and cursor to q when set.
func setPage(q url.Values, limit int, cursor string) {
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
}

// query returns "?"+q encoded, or "" when q is empty.
func query(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// nextPage tells how to get the next page, if any.
func nextPage(e *env, cursor string) {
	if cursor != "" {
		fmt.Fprintf(e.stderr, "More results: add --cursor %s\n", cursor)
	}
}

// pageFlags are the --limit and --cursor of a list command.
type pageFlags struct {
	limit  int
	cursor string
}

// addPageFlags adds --limit and --cursor for a list of what (plural).
func addPageFlags(fs *flag.FlagSet, what string) *pageFlags {
	p := &pageFlags{}
	fs.IntVar(&p.limit, "limit", 0, what+" per page (default 50, at most 1000)")
	fs.StringVar(&p.cursor, "cursor", "", "cursor of the page to show, from the previous page")
	return p
}

// listPage GETs one page of the list at path with the query q (plus the
// page flags) and prints it: as the API's JSON with --json, else as a
// table of header and one row per item, and then how to get the next page.
func listPage[T any](ctx context.Context, e *env, c *apiClient, cf *clientFlags, pf *pageFlags, path string, q url.Values,
	header []string, row func(T) []string) error {
	if q == nil {
		q = url.Values{}
	}
	setPage(q, pf.limit, pf.cursor)
	var out struct {
		Data       []T    `json:"data"`
		NextCursor string `json:"next_cursor"`
	}
	raw, err := c.call(ctx, "GET", path+query(q), nil, &out)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	rows := make([][]string, len(out.Data))
	for i, item := range out.Data {
		rows[i] = row(item)
	}
	if err := table(e.stdout, header, rows); err != nil {
		return err
	}
	nextPage(e, out.NextCursor)
	return nil
}

// endpointByID runs a command of the form "endpoints VERB ID" that calls
// method on /api/v1/endpoints/ID+suffix with body and prints the endpoint.
func endpointByID(ctx context.Context, e *env, verb string, args []string, method, suffix string, extra func(fs *flag.FlagSet) func() (any, error)) error {
	fs := newFlagSet("endpoints "+verb, e.stderr)
	var mk func() (any, error)
	if extra != nil {
		mk = extra(fs)
	}
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "endpoint ID"); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	var body any
	if mk != nil {
		if body, err = mk(); err != nil {
			return err
		}
	}
	var ep endpointOut
	raw, err := c.call(ctx, method, "/api/v1/endpoints/"+pathEscape(pos[0])+suffix, body, &ep)
	if err != nil {
		return err
	}
	switch {
	case cf.json:
		return printJSON(e.stdout, raw)
	case method == "DELETE":
		fmt.Fprintf(e.stdout, "deleted %s\n", pos[0])
		return nil
	case suffix == "/secret/reveal":
		rows := make([][]string, len(ep.Secrets))
		for i, s := range ep.Secrets {
			rows[i] = []string{s.Secret, fmtTime(&s.CreatedAt), fmtTime(s.ExpiresAt)}
		}
		return table(e.stdout, []string{"SECRET", "CREATED", "STOPS SIGNING"}, rows)
	}
	return printEndpoint(e.stdout, &ep)
}

func runEndpointsGet(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "get", args, "GET", "", nil)
}

func runEndpointsDelete(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "delete", args, "DELETE", "", nil)
}

func runEndpointsReveal(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "reveal-secret", args, "POST", "/secret/reveal", nil)
}

func runEndpointsRotate(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "rotate-secret", args, "POST", "/rotate-secret", func(fs *flag.FlagSet) func() (any, error) {
		secret := fs.String("secret", "", "the new secret (default: generated)")
		secretFile := fs.String("secret-file", "", "file holding the new secret")
		overlap := fs.Duration("overlap", 0, "how long the old secret keeps signing; 0 stops it now (default: the server's, 24h)")
		return func() (any, error) {
			b := map[string]any{}
			s, err := secretFromFlags(e, *secret, *secretFile, true, true)
			if err != nil {
				return nil, err
			}
			if s != "" {
				b["secret"] = s
			}
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "overlap" {
					b["overlap_seconds"] = int64(overlap.Seconds())
				}
			})
			return b, nil
		}
	})
}

func runEndpointsUpdate(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "update", args, "PATCH", "", func(fs *flag.FlagSet) func() (any, error) {
		var f endpointFields
		f.define(fs, updateSettings)
		allTypes := fs.Bool("all-event-types", false, "receive every event type (clears the filter)")
		disable := fs.Bool("disable", false, "disable the endpoint")
		enable := fs.Bool("enable", false, "enable the endpoint")
		return func() (any, error) {
			set := map[string]bool{}
			fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
			b, err := f.body(e, set)
			if err != nil {
				return nil, err
			}
			if *allTypes {
				if len(f.eventTypes) > 0 {
					return nil, usagef("give --event-type or --all-event-types, not both")
				}
				b["event_types"] = []string{}
			}
			switch {
			case *disable && *enable:
				return nil, usagef("give --disable or --enable, not both")
			case *disable:
				b["disabled"] = true
			case *enable:
				b["disabled"] = false
			}
			if len(b) == 0 {
				return nil, usagef("nothing to change: give at least one flag")
			}
			return b, nil
		}
	})
}

func runEndpointsTestFilter(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("endpoints test-filter", e.stderr)
	payload := fs.String("payload", "", "the payload to test, JSON, or @FILE, or - for standard input (default: standard input)")
	try := fs.String("filter", "", "a filter to try instead of the endpoint's own, JSON or @FILE")
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "endpoint ID"); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	var body struct {
		Payload json.RawMessage `json:"payload"`
		Filter  json.RawMessage `json:"filter,omitempty"`
	}
	if *payload == "" || *payload == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("read the payload: %w", err)
		}
		*payload = string(b)
	}
	if body.Payload, err = jsonFlag("--payload", *payload); err != nil {
		return err
	}
	if *try != "" {
		if body.Filter, err = jsonFlag("--filter", *try); err != nil {
			return err
		}
	}
	var out struct {
		Matches bool `json:"matches"`
	}
	raw, err := c.call(ctx, "POST", "/api/v1/endpoints/"+pathEscape(pos[0])+"/test-filter", body, &out)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	if out.Matches {
		fmt.Fprintln(e.stdout, "matches")
		return nil
	}
	fmt.Fprintln(e.stdout, "does not match")
	return exitError{code: 1} // for scripts, as verify does
}

func runEndpointsStats(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("endpoints stats", e.stderr)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "endpoint ID"); err != nil {
		return err
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	type window struct {
		Attempts    int     `json:"attempts"`
		Succeeded   int     `json:"succeeded"`
		Failed      int     `json:"failed"`
		Errors      int     `json:"errors"`
		SuccessRate float64 `json:"success_rate"`
		P50         float64 `json:"latency_p50_ms"`
		P95         float64 `json:"latency_p95_ms"`
		P99         float64 `json:"latency_p99_ms"`
	}
	var out struct {
		Windows map[string]window `json:"windows"`
	}
	raw, err := c.call(ctx, "GET", "/api/v1/endpoints/"+pathEscape(pos[0])+"/stats", nil, &out)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	var rows [][]string
	for _, name := range []string{"hour", "day"} {
		w := out.Windows[name]
		ms := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "ms" }
		rows = append(rows, []string{name, strconv.Itoa(w.Attempts), strconv.Itoa(w.Succeeded), strconv.Itoa(w.Failed),
			strconv.Itoa(w.Errors), strconv.FormatFloat(100*w.SuccessRate, 'f', 1, 64) + "%", ms(w.P50), ms(w.P95), ms(w.P99)})
	}
	return table(e.stdout, []string{"LAST", "ATTEMPTS", "2XX", "OTHER", "NO RESPONSE", "SUCCESS", "P50", "P95", "P99"}, rows)
}
