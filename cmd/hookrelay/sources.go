package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
)

// sourceOut is what the CLI reads of a source response.
type sourceOut struct {
	ID                  string        `json:"id"`
	Name                string        `json:"name"`
	Description         string        `json:"description"`
	IngestPath          string        `json:"ingest_path"`
	Tenant              string        `json:"tenant"`
	Scheme              string        `json:"scheme"`
	ToleranceSeconds    int64         `json:"tolerance_seconds"`
	DedupeWindowSeconds int64         `json:"dedupe_window_seconds"`
	SlackChallenge      bool          `json:"slack_challenge"`
	ZoomValidation      bool          `json:"zoom_validation"`
	Destinations        []endpointOut `json:"destinations"`
	Secrets             []struct {
		CreatedAt time.Time  `json:"created_at"`
		ExpiresAt *time.Time `json:"expires_at"`
	} `json:"secrets"`
	Secret    string    `json:"secret"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

var sourceCommands = map[string]subcommand{
	"create":     {"create an inbound source, with its destinations", runSourcesCreate},
	"list":       {"list inbound sources", runSourcesList},
	"get":        {"show a source (by id or name) and its destinations", runSourcesGet},
	"delete":     {"delete a source, its destinations and its rejections", runSourcesDelete},
	"add-dest":   {"add a destination to a source", runSourcesAddDestination},
	"rejections": {"list the requests a source refused in the last 24 hours", runSourcesRejections},
}

func runSources(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "sources", sourceCommands,
		[]string{"create", "list", "get", "delete", "add-dest", "rejections"}, args)
}

// destinationFlags are the flags that describe destinations.
type destinationFlags struct {
	scheme, secret, secretFile string
}

func (d *destinationFlags) define(fs *flag.FlagSet) {
	fs.StringVar(&d.scheme, "destination-scheme", "none", "scheme destinations are re-signed with: none (forward unsigned) or a hookrelay scheme such as standard")
	fs.StringVar(&d.secret, "destination-secret", "", "re-signing secret of the destinations (default: generated, shown once)")
	fs.StringVar(&d.secretFile, "destination-secret-file", "", "file holding the re-signing secret")
}

func (d *destinationFlags) body(e *env, u string) (map[string]any, error) {
	b := map[string]any{"url": u}
	if d.scheme != "" {
		b["scheme"] = d.scheme
	}
	secret, err := secretFromFlags(e, d.secret, d.secretFile, true, true)
	if err != nil {
		return nil, err
	}
	if secret != "" {
		b["secret"] = secret
	}
	return b, nil
}

func runSourcesCreate(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sources create", e.stderr)
	name := fs.String("name", "", "name: the ingest path /in/NAME (lowercase letters, digits and hyphens)")
	scheme := fs.String("scheme", "", "the sender's signature scheme: standard, github, stripe, shopify, slack, plextrac, teak, or custom")
	customScheme := fs.String("custom-scheme", "", "custom scheme as JSON, or @FILE to read it from FILE (implies --scheme custom)")
	var secrets, destinations stringList
	fs.Var(&secrets, "secret", "a secret that verifies requests, repeatable, newest first (default: generated, shown once)")
	secretFile := fs.String("secret-file", "", "file holding the secrets, one per line, newest first")
	description := fs.String("description", "", "description")
	tolerance := fs.Duration("tolerance", 0, "how far a signed timestamp may be from now (default: the scheme's, 5m)")
	dedupe := fs.Duration("dedupe-window", 0, "how long a message ID is remembered, so that a repeat is delivered once (default 24h)")
	slack := fs.Bool("slack-challenge", false, "answer Slack's url_verification handshake")
	zoomSecret := fs.String("zoom-secret", "", "a Zoom app's Secret Token: answer Zoom's endpoint.url_validation handshake")
	fs.Var(&destinations, "destination", "URL that receives the accepted requests, repeatable")
	var df destinationFlags
	df.define(fs)
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *name == "" {
		return usagef("--name is required")
	}
	if *scheme == "" && *customScheme == "" {
		return usagef("--scheme is required")
	}
	c, err := cf.client(e)
	if err != nil {
		return err
	}
	body := map[string]any{"name": *name}
	if *scheme != "" {
		body["scheme"] = *scheme
	}
	if *customScheme != "" {
		raw := []byte(*customScheme)
		if file, ok := strings.CutPrefix(*customScheme, "@"); ok {
			if raw, err = os.ReadFile(file); err != nil {
				return fmt.Errorf("read custom scheme: %w", err)
			}
		}
		if !json.Valid(raw) {
			return usagef("--custom-scheme is not valid JSON")
		}
		body["custom_scheme"] = json.RawMessage(raw)
		if *scheme == "" {
			body["scheme"] = "custom"
		}
	}
	if *secretFile != "" {
		if len(secrets) > 0 {
			return usagef("give --secret or --secret-file, not both")
		}
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return fmt.Errorf("read secrets: %w", err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				secrets = append(secrets, l)
			}
		}
	}
	if len(secrets) > 0 {
		body["secrets"] = []string(secrets)
	}
	if *description != "" {
		body["description"] = *description
	}
	if *tolerance < 0 || *dedupe < 0 {
		return usagef("--tolerance and --dedupe-window must not be negative")
	}
	if *tolerance > 0 {
		body["tolerance_seconds"] = int64(tolerance.Seconds())
	}
	if *dedupe > 0 {
		body["dedupe_window_seconds"] = int64(dedupe.Seconds())
	}
	if *slack {
		body["slack_challenge"] = true
	}
	if *zoomSecret != "" {
		body["zoom_secret"] = *zoomSecret
	}
	var dests []map[string]any
	for _, u := range destinations {
		d, err := df.body(e, u)
		if err != nil {
			return err
		}
		dests = append(dests, d)
	}
	if len(dests) > 0 {
		body["destinations"] = dests
	}
	var src sourceOut
	raw, err := c.call(ctx, "POST", "/api/v1/sources", body, &src)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	if err := printSource(e.stdout, c.base, &src); err != nil {
		return err
	}
	if src.Secret != "" {
		fmt.Fprintln(e.stderr, "The generated secret is shown once: configure it at the sender.")
	}
	for _, d := range src.Destinations {
		if d.Secret != "" {
			fmt.Fprintln(e.stderr, "Destination signing secrets are shown once; `hookrelay endpoints reveal-secret ID` shows them again.")
			break
		}
	}
	return nil
}

// printSource writes a source and its destinations as name-value lines.
func printSource(w io.Writer, base string, s *sourceOut) error {
	tol := "scheme default"
	if s.ToleranceSeconds > 0 {
		tol = rules.Seconds(s.ToleranceSeconds).String()
	}
	rows := [][]string{
		{"id", s.ID},
		{"name", s.Name},
		{"ingest url", base + s.IngestPath},
		{"scheme", s.Scheme},
		{"tolerance", tol},
		{"dedupe window", rules.Seconds(s.DedupeWindowSeconds).String()},
		{"slack challenge", strconv.FormatBool(s.SlackChallenge)},
		{"zoom validation", strconv.FormatBool(s.ZoomValidation)},
		{"tenant", s.Tenant},
		{"description", orDash(s.Description)},
		{"created", fmtTime(&s.CreatedAt)},
		{"updated", fmtTime(&s.UpdatedAt)},
	}
	for i, sec := range s.Secrets {
		v := "added " + fmtTime(&sec.CreatedAt)
		if sec.ExpiresAt != nil {
			v += ", expires " + fmtTime(sec.ExpiresAt)
		}
		rows = append(rows, []string{fmt.Sprintf("secret %d", i+1), v})
	}
	if s.Secret != "" {
		rows = append(rows, []string{"secret", s.Secret})
	}
	for _, d := range s.Destinations {
		v := d.ID + " " + d.URL + " (" + d.Scheme + ", " + d.state() + ")"
		if d.Secret != "" {
			v += " secret " + d.Secret
		}
		rows = append(rows, []string{"destination", v})
	}
	return table(w, nil, rows)
}

func runSourcesList(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sources list", e.stderr)
	pf := addPageFlags(fs, "sources")
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
	return listPage(ctx, e, c, cf, pf, "/api/v1/sources", nil,
		[]string{"ID", "NAME", "SCHEME", "INGEST URL", "DESCRIPTION"},
		func(s sourceOut) []string {
			return []string{s.ID, s.Name, s.Scheme, c.base + s.IngestPath, orDash(s.Description)}
		})
}

// sourceArg parses "sources VERB SOURCE [flags]" and returns the client,
// the escaped source and the client flags.
func sourceArg(e *env, verb string, args []string, extra func(fs *flag.FlagSet)) (*apiClient, string, *clientFlags, error) {
	fs := newFlagSet("sources "+verb, e.stderr)
	if extra != nil {
		extra(fs)
	}
	cf := addClientFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, "", nil, err
	}
	if err := wantArgs(pos, "source ID or name"); err != nil {
		return nil, "", nil, err
	}
	c, err := cf.client(e)
	if err != nil {
		return nil, "", nil, err
	}
	return c, pathEscape(pos[0]), cf, nil
}

func runSourcesGet(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := sourceArg(e, "get", args, nil)
	if err != nil {
		return err
	}
	var src sourceOut
	raw, err := c.call(ctx, "GET", "/api/v1/sources/"+id, nil, &src)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	return printSource(e.stdout, c.base, &src)
}

func runSourcesDelete(ctx context.Context, e *env, args []string) error {
	c, id, _, err := sourceArg(e, "delete", args, nil)
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, "DELETE", "/api/v1/sources/"+id, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", id)
	return nil
}

func runSourcesAddDestination(ctx context.Context, e *env, args []string) error {
	var (
		u  string
		df destinationFlags
	)
	c, id, cf, err := sourceArg(e, "add-dest", args, func(fs *flag.FlagSet) {
		fs.StringVar(&u, "url", "", "URL that receives the accepted requests")
		df.define(fs)
	})
	if err != nil {
		return err
	}
	if u == "" {
		return usagef("--url is required")
	}
	body, err := df.body(e, u)
	if err != nil {
		return err
	}
	var ep endpointOut
	raw, err := c.call(ctx, "POST", "/api/v1/sources/"+id+"/destinations", body, &ep)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	return printEndpoint(e.stdout, &ep)
}

func runSourcesRejections(ctx context.Context, e *env, args []string) error {
	var (
		limit  int
		cursor string
		full   bool
	)
	c, id, cf, err := sourceArg(e, "rejections", args, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 0, "rejections per page (default 50, at most 1000)")
		fs.StringVar(&cursor, "cursor", "", "cursor of the page to show, from the previous page")
		fs.BoolVar(&full, "full", false, "show each rejection's headers and body")
	})
	if err != nil {
		return err
	}
	q := url.Values{}
	setPage(q, limit, cursor)
	var out struct {
		Data []struct {
			ID         string            `json:"id"`
			ReceivedAt time.Time         `json:"received_at"`
			Reason     string            `json:"reason"`
			Detail     string            `json:"detail"`
			RemoteAddr string            `json:"remote_addr"`
			Headers    map[string]string `json:"headers"`
			Body       *string           `json:"body"`
			BodyBase64 *string           `json:"body_base64"`
			BodySize   int64             `json:"body_size"`
		} `json:"data"`
		NextCursor string `json:"next_cursor"`
	}
	raw, err := c.call(ctx, "GET", "/api/v1/sources/"+id+"/rejections"+query(q), nil, &out)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, raw)
	}
	if !full {
		rows := make([][]string, len(out.Data))
		for i, r := range out.Data {
			rows[i] = []string{r.ID, fmtTime(&r.ReceivedAt), r.Reason, r.RemoteAddr, strconv.FormatInt(r.BodySize, 10), r.Detail}
		}
		if err := table(e.stdout, []string{"ID", "RECEIVED", "REASON", "FROM", "BYTES", "DETAIL"}, rows); err != nil {
			return err
		}
	} else {
		for _, r := range out.Data {
			fmt.Fprintf(e.stdout, "%s  %s  %s  from %s\n  %s\n", r.ID, fmtTime(&r.ReceivedAt), r.Reason, r.RemoteAddr, r.Detail)
			for k, v := range r.Headers {
				fmt.Fprintf(e.stdout, "  %s: %s\n", k, v)
			}
			switch {
			case r.Body != nil:
				fmt.Fprintf(e.stdout, "  body (%d bytes): %q\n\n", r.BodySize, *r.Body)
			case r.BodyBase64 != nil:
				b, _ := base64.StdEncoding.DecodeString(*r.BodyBase64)
				fmt.Fprintf(e.stdout, "  body (%d bytes): %q\n\n", r.BodySize, b)
			}
		}
	}
	nextPage(e, out.NextCursor)
	return nil
}
