package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/hookrelay/hookrelay/jsoncanon"
)

// maxStdin bounds what the offline commands read from standard input.
const maxStdin = 1 << 30

func runCanon(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet("canon", e.stderr)
	style := fs.String("style", "js", "serializer to reproduce: js (JSON.stringify) or python (json.dumps)")
	seps := fs.String("separators", "default", "python only: default (', ', ': ') or compact (',', ':')")
	ascii := fs.String("ensure-ascii", "true", "python only: true escapes non-ASCII as \\uXXXX, false writes UTF-8")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hookrelay canon --style js|python [--separators default|compact] [--ensure-ascii=true|false] < doc.json")
		fmt.Fprintln(fs.Output(), "\nReads JSON on stdin and writes exactly the bytes JSON.stringify(JSON.parse(doc)) or\njson.dumps(json.loads(doc)) would, with no trailing newline.")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	opts, err := pythonOptions(*seps, *ascii)
	if err != nil {
		return err
	}
	if *style != "js" && *style != "python" {
		return usagef("unknown --style %q: want js or python", *style)
	}
	if *style == "js" && (*seps != "default" || *ascii != "true") {
		return usagef("--separators and --ensure-ascii apply to --style python only")
	}
	in, err := readAllLimit(e.stdin, maxStdin)
	if err != nil {
		return err
	}
	var out []byte
	if *style == "js" {
		out, err = jsoncanon.JS(in)
	} else {
		out, err = jsoncanon.Python(in, opts)
	}
	if err != nil {
		return err
	}
	if _, err := e.stdout.Write(out); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

func pythonOptions(seps, ascii string) (*jsoncanon.PythonOptions, error) {
	var o jsoncanon.PythonOptions
	switch seps {
	case "default":
	case "compact":
		o.Compact = true
	default:
		return nil, usagef("unknown --separators %q: want default or compact", seps)
	}
	b, err := strconv.ParseBool(ascii)
	if err != nil {
		return nil, usagef("invalid --ensure-ascii %q: want true or false", ascii)
	}
	o.KeepNonASCII = !b
	return &o, nil
}

// readAllLimit reads r to the end, failing if it holds more than limit bytes.
// When r is a regular file its size is used to read it in one allocation.
func readAllLimit(r io.Reader, limit int64) ([]byte, error) {
	var b []byte
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() <= limit {
			b = make([]byte, 0, fi.Size()+512)
		}
	}
	b, err := readAppend(b, io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read standard input: %w", err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("standard input larger than %d bytes", limit)
	}
	return b, nil
}

// readAppend reads r to the end, appending to b.
func readAppend(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}
