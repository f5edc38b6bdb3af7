package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/internal/rules"
)

var sourceCommands = []subcommand{
	{"create", "create an inbound source, with its destinations", runSourcesCreate},
	{"list", "list inbound sources", runSourcesList},
	{"get", "show a source (by id or name) and its destinations", runSourcesGet},
	{"delete", "delete a source, its destinations and its rejections", runSourcesDelete},
	{"add-dest", "add a destination to a source", runSourcesAddDestination},
	{"rejections", "list the requests a source refused in the last 24 hours", runSourcesRejections},
}

func runSources(ctx context.Context, e *env, args []string) error {
	return runSubcommand(ctx, e, "sources", sourceCommands, args)
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

func (d *destinationFlags) params(e *env, u string) (*client.DestinationParams, error) {
	secret, err := secretFromFlags(e, d.secret, d.secretFile, true, true)
	if err != nil {
		return nil, err
	}
	return &client.DestinationParams{URL: u, Scheme: d.scheme, Secret: secret}, nil
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
	p := &client.CreateSourceParams{Name: *name, Scheme: *scheme, Description: *description, SlackChallenge: *slack, ZoomSecret: *zoomSecret}
	if p.CustomScheme, err = readCustomScheme(*customScheme); err != nil {
		return err
	}
	if p.CustomScheme != nil && p.Scheme == "" {
		p.Scheme = "custom"
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
	p.Secrets = secrets
	if *tolerance < 0 || *dedupe < 0 {
		return usagef("--tolerance and --dedupe-window must not be negative")
	}
	if *tolerance > 0 {
		p.ToleranceSeconds = new(int64(tolerance.Seconds()))
	}
	if *dedupe > 0 {
		p.DedupeWindowSeconds = new(int64(dedupe.Seconds()))
	}
	for _, u := range destinations {
		d, err := df.params(e, u)
		if err != nil {
			return err
		}
		p.Destinations = append(p.Destinations, *d)
	}
	src, err := c.CreateSource(ctx, p)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, src.Raw)
	}
	if err := printSource(e.stdout, c.BaseURL, src); err != nil {
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
func printSource(w io.Writer, base string, s *client.Source) error {
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
		v := d.ID + " " + d.URL + " (" + d.Scheme + ", " + endpointState(d) + ")"
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
	c, _, err := clientArgs(e, fs, cf, args)
	if err != nil {
		return err
	}
	page, err := c.ListSources(ctx, &client.ListOptions{Limit: pf.limit, Cursor: pf.cursor})
	return printPage(e, cf, page, err,
		[]string{"ID", "NAME", "SCHEME", "INGEST URL", "DESCRIPTION"},
		func(s *client.Source) []string {
			return []string{s.ID, s.Name, s.Scheme, c.BaseURL + s.IngestPath, orDash(s.Description)}
		})
}

func runSourcesGet(ctx context.Context, e *env, args []string) error {
	c, id, cf, err := idArgs(e, "sources get", "source ID or name", args, nil)
	if err != nil {
		return err
	}
	src, err := c.GetSource(ctx, id)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, src.Raw)
	}
	return printSource(e.stdout, c.BaseURL, src)
}

func runSourcesDelete(ctx context.Context, e *env, args []string) error {
	c, id, _, err := idArgs(e, "sources delete", "source ID or name", args, nil)
	if err != nil {
		return err
	}
	if err := c.DeleteSource(ctx, id); err != nil {
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
	c, id, cf, err := idArgs(e, "sources add-dest", "source ID or name", args, func(fs *flag.FlagSet) {
		fs.StringVar(&u, "url", "", "URL that receives the accepted requests")
		df.define(fs)
	})
	if err != nil {
		return err
	}
	if u == "" {
		return usagef("--url is required")
	}
	p, err := df.params(e, u)
	if err != nil {
		return err
	}
	ep, err := c.AddDestination(ctx, id, p)
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, ep.Raw)
	}
	return printEndpoint(e.stdout, ep)
}

func runSourcesRejections(ctx context.Context, e *env, args []string) error {
	var (
		limit  int
		cursor string
		full   bool
	)
	c, id, cf, err := idArgs(e, "sources rejections", "source ID or name", args, func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 0, "rejections per page (default 50, at most 1000)")
		fs.StringVar(&cursor, "cursor", "", "cursor of the page to show, from the previous page")
		fs.BoolVar(&full, "full", false, "show each rejection's headers and body")
	})
	if err != nil {
		return err
	}
	out, err := c.ListRejections(ctx, id, &client.ListOptions{Limit: limit, Cursor: cursor})
	if err != nil {
		return err
	}
	if cf.json {
		return printJSON(e.stdout, out.Raw)
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
				b, _ := r.BodyBytes()
				fmt.Fprintf(e.stdout, "  body (%d bytes): %q\n\n", r.BodySize, b)
			}
		}
	}
	nextPage(e, out.NextCursor)
	return nil
}
