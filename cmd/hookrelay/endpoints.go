package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// endpointState says whether ep is enabled, and why not.
func endpointState(ep *client.Endpoint) string {
	if ep.Disabled {
		return "disabled (" + ep.DisabledReason + ")"
	}
	return "enabled"
}

// endpointFilter returns ep's payload filter as written, "-" for none.
func endpointFilter(ep *client.Endpoint) string {
	if len(ep.Filter) == 0 || string(ep.Filter) == "null" {
		return "-"
	}
	return string(ep.Filter)
}

// endpointSettingsRows are the name-value lines of ep's delivery
// settings, their secrets masked by the server.
func endpointSettingsRows(ep *client.Endpoint) [][]string {
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

// endpointEventTypes returns ep's event filter, "*" for every type.
func endpointEventTypes(ep *client.Endpoint) string {
	if len(ep.EventTypes) == 0 {
		return "*"
	}
	return strings.Join(ep.EventTypes, ",")
}

var endpointCommands = []subcommand{
	{"create", "create an endpoint; prints its secret once", runEndpointsCreate},
	{"list", "list endpoints", runEndpointsList},
	{"get", "show an endpoint", runEndpointsGet},
	{"update", "change an endpoint", runEndpointsUpdate},
	{"delete", "delete an endpoint, canceling its pending deliveries", runEndpointsDelete},
	{"rotate-secret", "make a new secret; the old one keeps signing for an overlap", runEndpointsRotate},
	{"reveal-secret", "print an endpoint's current secrets", runEndpointsReveal},
	{"test-filter", "tell whether a payload matches an endpoint's payload filter", runEndpointsTestFilter},
	{"stats", "attempts of the last hour and day: outcomes, success rate, latency percentiles", runEndpointsStats},
}

func runEndpoints(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "endpoints", endpointCommands, args)
}

// endpointFields are the flags create and update share.
type endpointFields struct {
	url, scheme, customScheme, secret, secretFile, tenant, description, filter string
	eventTypes                                                                 stringList
	fifo, traceContext                                                         bool
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
	fs.BoolVar(&f.traceContext, "trace-context", false, "send the W3C traceparent header of the delivery's trace to the endpoint")
	if settings != noSettings {
		f.settings.define(fs, settings == updateSettings)
	}
}

// customScheme returns the JSON of --custom-scheme, read from a file for
// @FILE; nil when it is not given.
func (f *endpointFields) customSchemeJSON() (json.RawMessage, error) {
	return readCustomScheme(f.customScheme)
}

// readCustomScheme returns the JSON of a --custom-scheme value (@FILE
// reads FILE); nil for "".
func readCustomScheme(v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	raw := []byte(v)
	if name, ok := strings.CutPrefix(v, "@"); ok {
		var err error
		if raw, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("read custom scheme: %w", err)
		}
	}
	if !json.Valid(raw) {
		return nil, usagef("--custom-scheme is not valid JSON")
	}
	return raw, nil
}

// create returns the fields of a new endpoint the flags describe.
func (f *endpointFields) create(e *env) (*client.CreateEndpointParams, error) {
	p := &client.CreateEndpointParams{
		URL:          f.url,
		Scheme:       f.scheme,
		EventTypes:   f.eventTypes,
		Tenant:       f.tenant,
		Description:  f.description,
		FIFO:         f.fifo,
		RateLimit:    f.rateLimit,
		TraceContext: f.traceContext,
	}
	var err error
	if p.CustomScheme, err = f.customSchemeJSON(); err != nil {
		return nil, err
	}
	if p.CustomScheme != nil && p.Scheme == "" {
		p.Scheme = "custom"
	}
	if p.Secret, err = secretFromFlags(e, f.secret, f.secretFile, true, true); err != nil {
		return nil, err
	}
	if f.filter != "" {
		if p.Filter, err = jsonFlag("--filter", f.filter); err != nil {
			return nil, err
		}
	}
	v, err := f.settings.values(nil)
	if err != nil {
		return nil, err
	}
	if v.headers != nil {
		p.Headers = *v.headers
	}
	p.Auth, p.ClientTLS, p.RetryScheduleSeconds = v.auth, v.tls, v.schedule
	if v.timeout != nil {
		p.TimeoutSeconds = *v.timeout
	}
	return p, nil
}

// update returns the changes of the flags in set (the ones given).
func (f *endpointFields) update(e *env, set map[string]bool) (*client.UpdateEndpointParams, error) {
	p := &client.UpdateEndpointParams{}
	if set["url"] && f.url != "" {
		p.URL = &f.url
	}
	if set["scheme"] && f.scheme != "" {
		p.Scheme = &f.scheme
	}
	if set["custom-scheme"] {
		raw, err := f.customSchemeJSON()
		if err != nil {
			return nil, err
		}
		if raw != nil {
			p.CustomScheme = raw
			if f.scheme == "" {
				p.Scheme = new("custom")
			}
		}
	}
	secret, err := secretFromFlags(e, f.secret, f.secretFile, set["secret"], set["secret-file"])
	if err != nil {
		return nil, err
	}
	if secret != "" {
		p.Secret = &secret
	}
	if set["filter"] {
		raw, err := jsonFlag("--filter", f.filter)
		if err != nil {
			return nil, err
		}
		p.Filter = raw
	}
	if set["event-type"] && len(f.eventTypes) > 0 {
		p.EventTypes = new([]string(f.eventTypes))
	}
	if set["description"] {
		p.Description = &f.description
	}
	if set["fifo"] {
		p.FIFO = &f.fifo
	}
	if set["rate-limit"] {
		p.RateLimit = &f.rateLimit
	}
	if set["trace-context"] {
		p.TraceContext = &f.traceContext
	}
	v, err := f.settings.values(set)
	if err != nil {
		return nil, err
	}
	p.Headers, p.Auth, p.ClientTLS = v.headers, v.auth, v.tls
	p.TimeoutSeconds, p.RetryScheduleSeconds = v.timeout, v.schedule
	return p, nil
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
	p, err := f.create(e)
	if err != nil {
		return err
	}
	p.Disabled = *disabled
	ep, err := c.CreateEndpoint(ctx, p)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ep.Raw)
	}
	if err := printEndpoint(e.stdout, ep); err != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "The secret is shown once; `hookrelay endpoints reveal-secret "+ep.ID+"` shows it again.")
	return nil
}

// printEndpoint writes one endpoint as name-value lines.
func printEndpoint(w io.Writer, ep *client.Endpoint) error {
	rows := [][]string{
		{"id", ep.ID},
		{"url", ep.URL},
		{"scheme", ep.Scheme},
		{"tenant", orDash(ep.Tenant)},
		{"event types", endpointEventTypes(ep)},
		{"filter", endpointFilter(ep)},
		{"state", endpointState(ep)},
		{"fifo", strconv.FormatBool(ep.FIFO)},
		{"rate limit", strconv.FormatFloat(ep.RateLimit, 'g', -1, 64)},
		{"trace context", strconv.FormatBool(ep.TraceContext)},
		{"description", orDash(ep.Description)},
		{"failing since", fmtTime(ep.FailingSince)},
		{"created", fmtTime(&ep.CreatedAt)},
		{"updated", fmtTime(&ep.UpdatedAt)},
	}
	rows = append(rows, endpointSettingsRows(ep)...)
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
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	filter := &client.EndpointFilter{Limit: pf.limit, Cursor: pf.cursor}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "tenant" {
			filter.Tenant = tenant
		}
	})
	page, err := c.ListEndpoints(ctx, filter)
	return printPage(e, cf, page, err,
		[]string{"ID", "URL", "SCHEME", "TENANT", "EVENT TYPES", "STATE"},
		func(ep *client.Endpoint) []string {
			return []string{ep.ID, ep.URL, ep.Scheme, orDash(ep.Tenant), endpointEventTypes(ep), endpointState(ep)}
		})
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

// printPage prints one page of a list, or returns err, the error of
// getting it: as the API's JSON with --json, else as a table of header and
// one row per item, and then how to get the next page.
func printPage[T any](e *env, cf *clientFlags, page *client.Page[T], err error, header []string, row func(*T) []string) error {
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, page.Raw)
	}
	rows := make([][]string, len(page.Data))
	for i, item := range page.Data {
		rows[i] = row(item)
	}
	if err := table(e.stdout, header, rows); err != nil {
		return err
	}
	nextPage(e, page.NextCursor)
	return nil
}

// endpointByID runs a command of the form "endpoints VERB ID [flags]": it
// parses the flags (extra adds the verb's own and returns the function
// that makes the call) and prints what the call returns.
func endpointByID(ctx context.Context, e *env, verb string, args []string,
	extra func(fs *flag.FlagSet) func(ctx context.Context, c *client.Client, id string) (*client.Endpoint, error)) error {
	var do func(ctx context.Context, c *client.Client, id string) (*client.Endpoint, error)
	c, id, cf, err := idArgs(e, "endpoints "+verb, "endpoint ID", args, func(fs *flag.FlagSet) { do = extra(fs) })
	if err != nil {
		return err
	}
	ep, err := do(ctx, c, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ep.Raw)
	}
	return printEndpoint(e.stdout, ep)
}

func runEndpointsGet(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "get", args, func(*flag.FlagSet) func(context.Context, *client.Client, string) (*client.Endpoint, error) {
		return func(ctx context.Context, c *client.Client, id string) (*client.Endpoint, error) {
			return c.GetEndpoint(ctx, id)
		}
	})
}

func runEndpointsDelete(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "endpoints delete", "endpoint ID", args, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteEndpoint(ctx, id); err != nil {
		return err
	}
	if !cf.json { // the API answers 204, with nothing to print as JSON
		fmt.Fprintf(e.stdout, "deleted %s\n", id)
	}
	return nil
}

func runEndpointsReveal(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "endpoints reveal-secret", "endpoint ID", args, nil)
	if err != nil {
		return err
	}
	rs, err := c.RevealSecrets(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, rs.Raw)
	}
	rows := make([][]string, len(rs.Secrets))
	for i, s := range rs.Secrets {
		rows[i] = []string{s.Value, fmtTime(&s.CreatedAt), fmtTime(s.ExpiresAt)}
	}
	return table(e.stdout, []string{"SECRET", "CREATED", "STOPS SIGNING"}, rows)
}

func runEndpointsRotate(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "rotate-secret", args, func(fs *flag.FlagSet) func(context.Context, *client.Client, string) (*client.Endpoint, error) {
		secret := fs.String("secret", "", "the new secret (default: generated)")
		secretFile := fs.String("secret-file", "", "file holding the new secret")
		overlap := fs.Duration("overlap", 0, "how long the old secret keeps signing; 0 stops it now (default: the server's, 24h)")
		return func(ctx context.Context, c *client.Client, id string) (*client.Endpoint, error) {
			p := &client.RotateSecretParams{}
			s, err := secretFromFlags(e, *secret, *secretFile, true, true)
			if err != nil {
				return nil, err
			}
			p.Secret = s
			fs.Visit(func(f *flag.Flag) {
				if f.Name == "overlap" {
					p.OverlapSeconds = new(int64(overlap.Seconds()))
				}
			})
			return c.RotateSecret(ctx, id, p)
		}
	})
}

func runEndpointsUpdate(ctx context.Context, e *env, args []string) error {
	return endpointByID(ctx, e, "update", args, func(fs *flag.FlagSet) func(context.Context, *client.Client, string) (*client.Endpoint, error) {
		var f endpointFields
		f.define(fs, updateSettings)
		allTypes := fs.Bool("all-event-types", false, "receive every event type (clears the filter)")
		disable := fs.Bool("disable", false, "disable the endpoint")
		enable := fs.Bool("enable", false, "enable the endpoint")
		return func(ctx context.Context, c *client.Client, id string) (*client.Endpoint, error) {
			set := map[string]bool{}
			fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
			p, err := f.update(e, set)
			if err != nil {
				return nil, err
			}
			if *allTypes {
				if len(f.eventTypes) > 0 {
					return nil, usagef("give --event-type or --all-event-types, not both")
				}
				p.EventTypes = new([]string{})
			}
			switch {
			case *disable && *enable:
				return nil, usagef("give --disable or --enable, not both")
			case *disable:
				p.Disabled = new(true)
			case *enable:
				p.Disabled = new(false)
			}
			if b, err := json.Marshal(p); err != nil || string(b) == "{}" {
				return nil, usagef("nothing to change: give at least one flag")
			}
			return c.UpdateEndpoint(ctx, id, p)
		}
	})
}

func runEndpointsTestFilter(ctx context.Context, e *env, args []string) error {
	var payload, try string
	c, id, cf, err := idArgs(e, "endpoints test-filter", "endpoint ID", args, func(fs *flag.FlagSet) {
		fs.StringVar(&payload, "payload", "", "the payload to test, JSON, or @FILE, or - for standard input (default: standard input)")
		fs.StringVar(&try, "filter", "", "a filter to try instead of the endpoint's own, JSON or @FILE")
	})
	if err != nil {
		return err
	}
	var payloadJSON, filterJSON json.RawMessage
	if payload == "" || payload == "-" {
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("read the payload: %w", err)
		}
		payload = string(b)
	}
	if payloadJSON, err = jsonFlag("--payload", payload); err != nil {
		return err
	}
	if try != "" {
		if filterJSON, err = jsonFlag("--filter", try); err != nil {
			return err
		}
	}
	matches, err := c.TestFilter(ctx, id, payloadJSON, filterJSON)
	if err != nil {
		return err
	}
	if cf.json {
		return writeJSONOut(e, map[string]bool{"matches": matches})
	}
	if matches {
		fmt.Fprintln(e.stdout, "matches")
		return nil
	}
	fmt.Fprintln(e.stdout, "does not match")
	return exitError{code: 1} // for scripts, as verify does
}

func runEndpointsStats(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "endpoints stats", "endpoint ID", args, nil)
	if err != nil {
		return err
	}
	out, err := c.GetEndpointStats(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, out.Raw)
	}
	var rows [][]string
	for _, name := range []string{"hour", "day"} {
		w := out.Windows[name]
		ms := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) + "ms" }
		rows = append(rows, []string{name, strconv.Itoa(w.Attempts), strconv.Itoa(w.Succeeded), strconv.Itoa(w.Failed),
			strconv.Itoa(w.Errors), strconv.FormatFloat(100*w.SuccessRate, 'f', 1, 64) + "%", ms(w.P50MS), ms(w.P95MS), ms(w.P99MS)})
	}
	return table(e.stdout, []string{"LAST", "ATTEMPTS", "2XX", "OTHER", "NO RESPONSE", "SUCCESS", "P50", "P95", "P99"}, rows)
}
