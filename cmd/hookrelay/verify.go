package main

import (
	"context"
	"fmt"
	"time"

	"github.com/hookrelay/hookrelay/signature"
)

func runVerify(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("verify", e.stderr)
	var f sigFlags
	f.defineScheme(fs)
	f.defineSecrets(fs, "secret to accept (standard: whsec_ secret or whpk_ public key)")
	f.defineHeaders(fs)
	now := fs.String("now", "", "check the signed timestamp as of this Unix time, to verify a recorded request (default: now)")
	tolerance := fs.Duration("tolerance", 0, "how far the signed timestamp may be from --now (default: the scheme's, 5m)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay verify --scheme NAME --secret S --header 'Name: value'... [--now UNIX] < body")
		fmt.Fprintln(fs.Output(), "\nVerifies the signature of the request body on standard input, exactly as\nreceived, with its headers. Exits 0 if it is valid, 1 if it is not (the reason\ngoes to standard error), 2 on a usage error. Header names match without regard\nto case; with several --secret flags any one may have signed.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	s, err := f.lookup()
	if err != nil {
		return err
	}
	secrets, err := f.secretList(e)
	if err != nil {
		return err
	}
	h, err := f.header()
	if err != nil {
		return err
	}
	if *tolerance < 0 {
		return usagef("--tolerance must not be negative")
	}
	opts := &signature.VerifyOptions{Tolerance: *tolerance}
	if *now != "" {
		t, err := parseUnixFlag("now", *now)
		if err != nil {
			return err
		}
		opts.Now = func() time.Time { return t }
	}
	body, err := readAllLimit(e.stdin, maxStdin)
	if err != nil {
		return err
	}
	if err := s.Verify(h, body, secrets, opts); err != nil {
		return exitError{code: 1, err: err}
	}
	fmt.Fprintf(e.stdout, "valid %s signature\n", s.Name())
	return nil
}
