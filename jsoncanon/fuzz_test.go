package jsoncanon

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// The fuzzers compare jsoncanon with the long-lived oracles on every input,
// and check properties that hold whatever the input: JS output is valid
// UTF-8 JSON, ensure_ascii output is ASCII, and converting an output again
// gives it back (or, where CPython's own output does not survive a second
// round, what CPython gives). Their seed corpus is every golden case plus
// testdata/fuzz/FuzzJS and testdata/fuzz/FuzzPython. Run them with
//
//	go test ./jsoncanon -run '^$' -fuzz FuzzJS -fuzztime 3m
//	go test ./jsoncanon -run '^$' -fuzz FuzzPython -fuzztime 3m

func addGoldenSeeds(f *testing.F) {
	for _, dir := range goldenCases(f) {
		b, err := os.ReadFile(filepath.Join(dir, "input.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzJS(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := JS(doc)
		res := oracleJS(t, doc)[0]
		var want []byte
		if res.err == "" {
			want = res.outs[0]
		}
		if d := checkAgainst(got, err, want, res.err); d != "" {
			t.Fatalf("input %q\n\t%s", doc, d)
		}
		if err != nil {
			return
		}
		if !json.Valid(got) || !utf8.Valid(got) {
			t.Fatalf("input %q\n\toutput is not valid UTF-8 JSON: %q", doc, got)
		}
		again, err := JS(got)
		if err != nil || !bytes.Equal(again, got) {
			t.Fatalf("not idempotent\n\tinput  %q\n\tonce   %q\n\ttwice  %q (error %v)", doc, got, again, err)
		}
	})
}

func FuzzPython(f *testing.F) {
	addGoldenSeeds(f)
	f.Fuzz(func(t *testing.T, doc []byte) {
		res := oraclePython(t, doc)[0]
		for v, pv := range pyVariants {
			got, err := Python(doc, &pv.opts)
			var want []byte
			if res.err == "" {
				want = res.outs[v]
			}
			if d := checkAgainst(got, err, want, res.err); d != "" {
				t.Fatalf("%s: input %q\n\t%s", pv.name, doc, d)
			}
			if err != nil {
				continue
			}
			if !pv.opts.KeepNonASCII {
				for _, c := range got {
					if c >= utf8.RuneSelf {
						t.Fatalf("%s: input %q\n\tensure_ascii output is not ASCII: %q", pv.name, doc, got)
					}
				}
			}
			again, err := Python(got, &pv.opts)
			if err == nil && bytes.Equal(again, got) {
				continue
			}
			// Not a fixed point: acceptable only if CPython agrees.
			res2 := oraclePython(t, got)[0]
			var want2 []byte
			if res2.err == "" {
				want2 = res2.outs[v]
			}
			if d := checkAgainst(again, err, want2, res2.err); d != "" {
				t.Fatalf("%s: second round differs\n\tinput  %q\n\tonce   %q\n\t%s", pv.name, doc, got, d)
			}
		}
	})
}
