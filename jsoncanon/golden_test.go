package jsoncanon

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "TestGolden: rewrite the want files from the node and python3 oracles")

// goldenFiles are the want files of a golden case, with what each holds.
var goldenFiles = []struct {
	file string
	conv func([]byte) ([]byte, error)
}{
	{"want.js.json", JS},
	{pyVariants[0].file, func(b []byte) ([]byte, error) { return Python(b, &pyVariants[0].opts) }},
	{pyVariants[1].file, func(b []byte) ([]byte, error) { return Python(b, &pyVariants[1].opts) }},
	{pyVariants[2].file, func(b []byte) ([]byte, error) { return Python(b, &pyVariants[2].opts) }},
}

// goldenCases returns the directories under testdata that hold an
// input.json: one hand-written case per rule, named for it.
func goldenCases(tb testing.TB) []string {
	tb.Helper()
	inputs, err := filepath.Glob(filepath.Join("testdata", "*", "input.json"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(inputs) < 40 {
		tb.Fatalf("found %d golden cases, want at least 40", len(inputs))
	}
	dirs := make([]string, len(inputs))
	for i, in := range inputs {
		dirs[i] = filepath.Dir(in)
	}
	return dirs
}

// TestGolden compares jsoncanon with want files that the real oracles wrote:
// want.js.json (Node), want.py.json, want.py-compact.json and
// want.py-utf8.json (CPython). A missing want file means the oracle raised,
// so jsoncanon must return a *SyntaxError. Regenerate the want files with
//
//	go test ./jsoncanon -run TestGolden -update
//
// On a mismatch outside CI, what jsoncanon wrote is left next to the want
// file as <file>.got.
func TestGolden(t *testing.T) {
	dirs := goldenCases(t)
	if *update {
		updateGolden(t, dirs)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			input, err := os.ReadFile(filepath.Join(dir, "input.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range goldenFiles {
				path := filepath.Join(dir, g.file)
				want, err := os.ReadFile(path)
				wantErr := errors.Is(err, fs.ErrNotExist)
				if err != nil && !wantErr {
					t.Fatal(err)
				}
				got, gotErr := g.conv(input)
				os.Remove(path + ".got")
				switch {
				case wantErr && gotErr == nil:
					t.Errorf("%s: the oracle raised (no want file), but got %q", g.file, got)
				case wantErr:
					var se *SyntaxError
					if !errors.As(gotErr, &se) {
						t.Errorf("%s: got error %T %v, want a *SyntaxError", g.file, gotErr, gotErr)
					}
					continue
				case gotErr != nil:
					t.Errorf("%s: got error %v, want %q", g.file, gotErr, want)
					continue
				case !bytes.Equal(got, want):
					t.Errorf("%s:\n\tinput %q\n\twant  %q\n\tgot   %q", g.file, input, want, got)
				default:
					continue
				}
				if os.Getenv("CI") == "" && gotErr == nil {
					if err := os.WriteFile(path+".got", got, 0o644); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
}

// updateGolden asks the oracles about every case and rewrites the want
// files: each oracle output exactly, and no file where the oracle raised.
func updateGolden(t *testing.T, dirs []string) {
	inputs := make([][]byte, len(dirs))
	for i, dir := range dirs {
		var err error
		if inputs[i], err = os.ReadFile(filepath.Join(dir, "input.json")); err != nil {
			t.Fatal(err)
		}
	}
	js := oracleJS(t, inputs...)
	py := oraclePython(t, inputs...)
	for i, dir := range dirs {
		outs := [][]byte{nil, nil, nil, nil}
		if js[i].err == "" {
			outs[0] = js[i].outs[0]
		}
		if py[i].err == "" {
			outs[1], outs[2], outs[3] = py[i].outs[0], py[i].outs[1], py[i].outs[2]
		}
		for k, g := range goldenFiles {
			path := filepath.Join(dir, g.file)
			if outs[k] == nil {
				if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				continue
			}
			if err := os.WriteFile(path, outs[k], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: node %s, python %s", filepath.Base(dir), orOK(js[i].err), orOK(py[i].err))
	}
}

func orOK(err string) string {
	if err == "" {
		return "ok"
	}
	return "raised " + err
}
