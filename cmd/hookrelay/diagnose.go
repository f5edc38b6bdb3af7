package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hookrelay/hookrelay/signature"
)

func runDiagnose(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("diagnose", e.stderr)
	var f sigFlags
	f.defineSecrets(fs, "secret the sender may have used")
	f.defineHeaders(fs)
	asJSON := fs.Bool("json", false, "write the diagnosis as JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay diagnose --secret S --header 'Name: value'... < body")
		fmt.Fprintln(fs.Output(), "\nTries every scheme, signature encoding, body serialization (raw, JSON.stringify,\njson.dumps default and compact, ensure_ascii on and off, trailing newline) and\nsecret form (text, base64) on the request body on standard input, and says which\none matches, or the most likely cause when none does. Exits 0 on a match, 1 if\nnothing matched.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	secrets, err := f.secretList(e)
	if err != nil {
		return err
	}
	h, err := f.header()
	if err != nil {
		return err
	}
	if len(h) == 0 {
		return usagef("give the request's headers with --header 'Name: value'")
	}
	body, err := readAllLimit(e.stdin, maxStdin)
	if err != nil {
		return err
	}
	d := signature.Diagnose(h, body, secrets)
	if *asJSON {
		b, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "%s\n", b)
	} else {
		fmt.Fprint(e.stdout, d)
	}
	if !d.Matched {
		return exitError{code: 1}
	}
	return nil
}
