package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// Limits of the API client.
const (
	defaultAPI       = "http://127.0.0.1:8080"
	clientTimeout    = 60 * time.Second
	maxResponseBytes = 64 << 20
)

// clientFlags are the flags every command that calls the API has.
type clientFlags struct {
	api     string
	key     string
	json    bool
	timeout time.Duration
	ef      envFlags
}

// addClientFlags defines --api, --key, --json and --timeout on fs.
func addClientFlags(fs *flag.FlagSet) *clientFlags {
	c := &clientFlags{ef: envFlags{fs: fs}}
	fs.StringVar(&c.api, "api", defaultAPI, "base URL of the hookrelay service")
	fs.StringVar(&c.key, "key", "", "API key")
	fs.BoolVar(&c.json, "json", false, "print the API's JSON instead of a table")
	fs.DurationVar(&c.timeout, "timeout", clientTimeout, "time limit of each API call")
	c.ef.bind("api", "HOOKRELAY_API")
	c.ef.bind("key", "HOOKRELAY_KEY")
	return c
}

// client returns the API client the flags and environment describe.
func (c *clientFlags) client(e *env) (*client.Client, error) {
	if err := c.ef.apply(e.getenv); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--api %q: want a URL such as %s", c.api, defaultAPI)
	}
	if c.key == "" {
		return nil, usagef("no API key: use --key or set HOOKRELAY_KEY")
	}
	if c.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	return &client.Client{
		BaseURL:          strings.TrimRight(c.api, "/"),
		Key:              c.key,
		HTTPClient:       &http.Client{Timeout: c.timeout},
		MaxResponseBytes: maxResponseBytes,
		UserAgent:        "hookrelay-cli/" + buildVersion(),
	}, nil
}

// printJSON writes a raw API response to w, ending it with a newline.
func printJSON(w io.Writer, b []byte) error {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// writeJSONOut writes v as JSON, as the API would.
func writeJSONOut(e *env, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	return printJSON(e.stdout, b)
}

// table writes rows under a header (none if nil), in aligned columns.
func table(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if header != nil {
		fmt.Fprintln(tw, strings.Join(header, "\t"))
	}
	for _, r := range rows {
		for i, c := range r {
			r[i] = strings.Map(func(r rune) rune {
				if r == '\t' || r == '\n' || r == '\r' {
					return ' '
				}
				return r
			}, c)
		}
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// orDash returns s, or "-" when it is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// fmtTime formats t for tables, or "-" for nil.
func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// parseArgs parses args into fs allowing flags after positional arguments
// ("get ID --json"), and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// wantArgs checks that exactly n positional arguments were given, naming
// them in the error.
func wantArgs(pos []string, names ...string) error {
	if len(pos) < len(names) {
		return usagef("missing %s", strings.Join(names[len(pos):], " and "))
	}
	if len(pos) > len(names) {
		return usagef("unexpected argument %q", pos[len(names)])
	}
	return nil
}

// clientArgs parses args into fs, checks that the positional arguments
// are the ones names lists, and returns them with the client cf describes.
func clientArgs(e *env, fs *flag.FlagSet, cf *clientFlags, args []string, names ...string) (*client.Client, []string, error) {
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := wantArgs(pos, names...); err != nil {
		return nil, nil, err
	}
	c, err := cf.client(e)
	if err != nil {
		return nil, nil, err
	}
	return c, pos, nil
}

// idArgs parses "COMMAND ID [flags]" (extra, if not nil, adds the
// command's own flags) and returns the client, the ID and the client flags.
// what names the ID in the usage error when it is missing.
func idArgs(e *env, command, what string, args []string, extra func(fs *flag.FlagSet)) (*client.Client, string, *clientFlags, error) {
	fs := newFlagSet(command, e.stderr)
	if extra != nil {
		extra(fs)
	}
	cf := addClientFlags(fs)
	c, pos, err := clientArgs(e, fs, cf, args, what)
	if err != nil {
		return nil, "", nil, err
	}
	return c, pos[0], cf, nil
}

// subcommand is one verb of a command with verbs (endpoints create, ...).
type subcommand struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// runSubcommand dispatches args[0] among subs, which its usage lists in
// their order.
func runSubcommand(ctx context.Context, e *env, name string, subs []subcommand, args []string) error {
	usage := func() {
		fmt.Fprintf(e.stderr, "Usage: hookrelay %s <command> [flags]\n\nCommands:\n", name)
		for _, sub := range subs {
			fmt.Fprintf(e.stderr, "  %-14s %s\n", sub.name, sub.summary)
		}
		fmt.Fprintf(e.stderr, "\nRun \"hookrelay %s <command> -h\" for a command's flags.\n", name)
	}
	if len(args) == 0 {
		usage()
		return exitError{code: 2}
	}
	if args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return errHelp
	}
	i := slices.IndexFunc(subs, func(s subcommand) bool { return s.name == args[0] })
	if i < 0 {
		usage()
		return usagef("unknown command %q", args[0])
	}
	return subs[i].run(ctx, e, args[1:])
}

// errNoInput is returned when a command needs standard input and none came.
var errNoInput = errors.New("standard input is empty: pipe the JSON payload in")
