package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

func runSend(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("send", e.stderr)
	var f sigFlags
	f.defineScheme(fs)
	f.defineSecrets(fs, "signing secret")
	f.defineHeaders(fs)
	id := fs.String("id", "", "message ID, for schemes that send or sign one (default: generated)")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit of the request")
	allowPrivate := fs.Bool("allow-private-networks", false, "allow a URL on a loopback, private or link-local address")
	verbose := fs.Bool("v", false, "print the request headers sent to standard error")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay send --scheme NAME --secret S [--header 'K: V']... URL < payload.json")
		fmt.Fprintln(fs.Output(), "\nSigns the payload on standard input with the scheme and POSTs it to URL once,\nthen prints the response's status, latency and body. For testing receivers;\nexits 1 unless the response is a 2xx.")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos, "URL"); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}
	scheme, err := f.lookup()
	if err != nil {
		return err
	}
	secrets, err := f.secretList(e)
	if err != nil {
		return err
	}
	for _, s := range secrets {
		if err := signature.ValidateSecret(scheme, s); err != nil {
			return usagef("%v", err)
		}
	}
	extra, err := f.header()
	if err != nil {
		return err
	}
	target := pos[0]
	if err := delivery.CheckURL(ctx, target, *allowPrivate); err != nil {
		if errors.Is(err, delivery.ErrForbiddenAddress) {
			return fmt.Errorf("%w (use --allow-private-networks to send to it anyway)", err)
		}
		return err
	}
	payload, err := readAllLimit(e.stdin, maxPayloadInput)
	if err != nil {
		return err
	}
	if len(payload) == 0 {
		return errNoInput
	}
	if *id == "" {
		*id = store.NewID("msg")
	}
	signed, err := scheme.Sign(signature.Message{ID: *id, Timestamp: time.Now(), Payload: payload}, secrets...)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if signed.Header == nil {
		signed.Header = http.Header{}
	}
	for k, v := range extra {
		signed.Header[http.CanonicalHeaderKey(k)] = v
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	res, err := delivery.Send(ctx, delivery.NewHTTPClient(*allowPrivate, *timeout), target, signed)
	if res == nil {
		return fmt.Errorf("send: %w", err)
	}
	if *verbose {
		printHeaders(e, res.RequestHeader)
	}
	fmt.Fprintf(e.stdout, "HTTP %d %s in %s\n", res.StatusCode, http.StatusText(res.StatusCode), fmtMS(float64(res.Duration.Microseconds())/1000))
	e.stdout.Write(res.Body)
	if len(res.Body) > 0 && res.Body[len(res.Body)-1] != '\n' {
		fmt.Fprintln(e.stdout)
	}
	if res.Truncated {
		fmt.Fprintf(e.stderr, "(response body cut at %d bytes)\n", len(res.Body))
	}
	if err != nil {
		return exitError{code: 1, err: err}
	}
	return nil
}

// printHeaders writes the request headers, sorted, to standard error.
func printHeaders(e *env, h http.Header) {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(e.stderr, "> %s: %s\n", k, v)
		}
	}
}
