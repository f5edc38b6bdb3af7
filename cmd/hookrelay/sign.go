package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/signature"
)

// sigFlags are the flags that sign, verify and diagnose share: the scheme,
// the secrets and the request headers.
type sigFlags struct {
	scheme     string
	custom     string
	secrets    stringList
	secretFile string
	headers    stringList
}

func (f *sigFlags) defineScheme(fs *flag.FlagSet) {
	fs.StringVar(&f.scheme, "scheme", "", "signature scheme: "+strings.Join(signature.Names(), ", "))
	fs.StringVar(&f.custom, "custom-scheme", "", "a custom scheme instead: its JSON configuration, or @FILE to read it")
}

func (f *sigFlags) defineSecrets(fs *flag.FlagSet, what string) {
	fs.Var(&f.secrets, "secret", what+"; repeat it for several, newest first (env HOOKRELAY_SECRET)")
	fs.StringVar(&f.secretFile, "secret-file", "", "file holding the secrets, one per line (keeps them out of ps and shell history)")
}

func (f *sigFlags) defineHeaders(fs *flag.FlagSet) {
	fs.Var(&f.headers, "header", "request header 'Name: value'; repeat it for each header")
}

// lookup returns the scheme the flags name.
func (f *sigFlags) lookup() (*signature.Scheme, error) {
	switch {
	case f.custom != "" && f.scheme != "":
		return nil, usagef("give --scheme or --custom-scheme, not both")
	case f.custom != "":
		raw := []byte(f.custom)
		if file, ok := strings.CutPrefix(f.custom, "@"); ok {
			var err error
			if raw, err = os.ReadFile(file); err != nil {
				return nil, fmt.Errorf("read custom scheme: %w", err)
			}
		}
		s, _, _, err := schemes.Parse(schemes.Custom, raw)
		if err != nil {
			return nil, usagef("--custom-scheme: %v", err)
		}
		return s, nil
	case f.scheme == "":
		return nil, usagef("--scheme is required (one of %s), or --custom-scheme", strings.Join(signature.Names(), ", "))
	}
	s, err := signature.Lookup(f.scheme)
	if err != nil {
		return nil, usagef("%v", err)
	}
	return s, nil
}

// secretList returns the secrets of --secret and --secret-file, in that
// order, or else the one in HOOKRELAY_SECRET. Lines of a secret file lose
// their line ending only, so that stray white space stays visible to
// diagnose.
func (f *sigFlags) secretList(e *env) ([]string, error) {
	out := slices.Clone([]string(f.secrets))
	if f.secretFile != "" {
		b, err := os.ReadFile(f.secretFile)
		if err != nil {
			return nil, fmt.Errorf("read secret file: %w", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if line = strings.TrimSuffix(line, "\r"); line != "" {
				out = append(out, line)
			}
		}
		if len(out) == len(f.secrets) {
			return nil, usagef("--secret-file %s holds no secret", f.secretFile)
		}
	}
	if len(out) == 0 {
		if s := e.getenv("HOOKRELAY_SECRET"); s != "" {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, usagef("a secret is required: --secret, --secret-file or HOOKRELAY_SECRET")
	}
	return out, nil
}

// header parses the --header flags. Names match without regard to case.
func (f *sigFlags) header() (http.Header, error) {
	h := http.Header{}
	for _, line := range f.headers {
		name, value, ok := strings.Cut(line, ":")
		name, value = strings.TrimSpace(name), strings.Trim(value, " \t")
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return nil, usagef("--header %q: want 'Name: value'", line)
		}
		h.Add(name, value)
	}
	return h, nil
}

func runSign(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("sign", e.stderr)
	var f sigFlags
	f.defineScheme(fs)
	f.defineSecrets(fs, "signing secret (standard: whsec_ secret or whsk_ key)")
	id := fs.String("id", "", "message ID, for schemes that sign or send one (default: a random msg_ ID)")
	ts := fs.Int64("timestamp", 0, "Unix time in seconds to sign, for timestamped schemes (default: now)")
	bodyFile := fs.String("body", "", "also write the exact body to send to this file (it differs from the payload for plextrac and teak)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay sign --scheme NAME --secret S [--id ID] [--timestamp UNIX] [--body FILE] < payload")
		fmt.Fprintln(fs.Output(), "\nSigns the payload on standard input and writes the signature headers, one\n'Name: value' line each. Schemes that sign a JSON serialization (plextrac, teak)\nsign the serialization of the parsed payload, which is the body to send (--body);\nthe others sign the input bytes exactly. With several secrets, standard and stripe\nsign with each; the other schemes with the first.")
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
	for _, sec := range secrets {
		if err := signature.ValidateSecret(s, sec); err != nil {
			return usagef("%v", err)
		}
	}
	if *ts < 0 {
		return usagef("--timestamp must not be negative")
	}
	msg := signature.Message{ID: *id}
	if *ts > 0 {
		msg.Timestamp = time.Unix(*ts, 0)
	}
	if msg.ID == "" {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		msg.ID = "msg_" + hex.EncodeToString(b[:])
	}
	if msg.Payload, err = readAllLimit(e.stdin, maxStdin); err != nil {
		return err
	}
	signed, err := s.Sign(msg, secrets...)
	if err != nil {
		return err
	}
	if *bodyFile != "" {
		if err := os.WriteFile(*bodyFile, signed.Body, 0o644); err != nil {
			return fmt.Errorf("write body: %w", err)
		}
	}
	var b strings.Builder
	done := map[string]bool{}
	for _, name := range s.Headers() {
		if v := signed.Header.Get(name); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
			done[http.CanonicalHeaderKey(name)] = true
		}
	}
	rest := make([]string, 0, len(signed.Header))
	for k := range signed.Header {
		if !done[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		fmt.Fprintf(&b, "%s: %s\n", k, signed.Header.Get(k))
	}
	if _, err := io.WriteString(e.stdout, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// parseUnixFlag reads a --now value.
func parseUnixFlag(name, v string) (time.Time, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, usagef("--%s %q: want a Unix time in seconds", name, v)
	}
	return time.Unix(n, 0), nil
}
