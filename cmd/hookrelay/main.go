// Command hookrelay signs, verifies and delivers webhooks.
//
// Usage:
//
//	hookrelay <command> [flags]
//
// Run "hookrelay help" for the list of commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// env is what a subcommand sees of the outside world. Tests construct one
// with buffers instead of the process's standard streams.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// command is one subcommand: a one-line summary and the function that runs it.
type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand. Each one lives in its own file.
var commands = map[string]command{
	"bench":       {"measure delivery throughput and latency against a bare HTTP client", runBench},
	"canon":       {"write the exact JSON.stringify or json.dumps bytes of a JSON document", runCanon},
	"serve":       {"run the webhook service: API, delivery engine, /healthz, /metrics", runServe},
	"export":      {"write every row of the database as JSON lines, for import (moving SQLite to PostgreSQL)", runExport},
	"import":      {"read what export wrote into an empty database", runImport},
	"endpoints":   {"create, list, show, change and delete endpoints (calls the API)", runEndpoints},
	"events":      {"send events (calls the API)", runEvents},
	"event-types": {"the event catalog: create, list, change, import from OpenAPI, send examples (calls the API)", runEventTypes},
	"deliveries":  {"list, show, retry and replay deliveries (calls the API)", runDeliveries},
	"replays":     {"bulk replay jobs: create, list, show, cancel (calls the API)", runReplays},
	"keys":        {"create, list and revoke API keys (via the API, or --data directly)", runKeys},
	"migrate":     {"apply the database's pending schema migrations, or show which are applied", runMigrate},
	"sources":     {"create, list, show and delete inbound sources, see what they refused (calls the API)", runSources},
	"send":        {"sign a payload and POST it to a URL once, to test a receiver", runSend},
	"sign":        {"sign a payload and print the signature headers", runSign},
	"verify":      {"verify a request's signature; exit 0 if valid, 1 if not", runVerify},
	"diagnose":    {"find out how a request was signed, or why its signature does not verify", runDiagnose},
	"version":     {"print the version this binary was built from", runVersion},
	"healthcheck": {"exit 0 when a running serve's /healthz answers 200 (for container health checks)", runHealthcheck},
}

// usageError marks an error caused by how the command was called; it maps to
// exit status 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// exitError carries a specific exit status with an error message that has
// already been written (or is deliberately empty).
type exitError struct {
	code int
	err  error
}

func (x exitError) Error() string {
	if x.err == nil {
		return fmt.Sprintf("exit status %d", x.code)
	}
	return x.err.Error()
}
func (x exitError) Unwrap() error { return x.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit status:
// 0 success, 1 failure, 2 usage error.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "hookrelay: unknown command %q\n\n", args[0])
		printUsage(e.stderr)
		return 2
	}
	err := cmd.run(ctx, e, args[1:])
	return exitCode(e.stderr, args[0], err)
}

func exitCode(stderr io.Writer, name string, err error) int {
	if err == nil {
		return 0
	}
	var x exitError
	if errors.As(err, &x) {
		if x.err != nil {
			fmt.Fprintf(stderr, "hookrelay %s: %v\n", name, x.err)
		}
		return x.code
	}
	if errors.Is(err, errHelp) {
		return 0
	}
	fmt.Fprintf(stderr, "hookrelay %s: %v\n", name, err)
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "Usage: hookrelay <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "hookrelay <command> -h" for a command's flags.`)
}
