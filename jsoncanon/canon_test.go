package jsoncanon

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bad marks a table entry whose input the serializer's parser refuses.
const bad = "\x00error"

// jsRules has one entry per JSON.stringify(JSON.parse(x)) rule.
// TestRuleTablesAgainstOracles checks every want against Node.
var jsRules = []struct{ name, in, want string }{
	// Object members.
	{"insertion order", `{"b":1,"a":2}`, `{"b":1,"a":2}`},
	{"index keys first, ascending", `{"b":1,"2":2,"a":3,"1":4,"10":5}`, `{"1":4,"2":2,"10":5,"b":1,"a":3}`},
	{"index 2^32-2 is an index, 2^32-1 is not", `{"4294967295":1,"4294967294":2}`, `{"4294967294":2,"4294967295":1}`},
	{"01 is not an index", `{"01":1,"1":2}`, `{"1":2,"01":1}`},
	{"-1 is not an index", `{"-1":1,"0":2}`, `{"0":2,"-1":1}`},
	{"1.0 is not an index", `{"1.0":1,"1":2}`, `{"1":2,"1.0":1}`},
	{"escaped index key", `{"x":1,"\u0031":2}`, `{"1":2,"x":1}`},
	{"duplicate: first position, last value", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
	{"duplicate after unescaping", `{"a":1,"\u0061":2}`, `{"a":2}`},
	{"duplicate index key", `{"10":1,"9":2,"10":3}`, `{"9":2,"10":3}`},
	{"duplicates in a large object", `{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k1":9,"k0":10}`, `{"k0":10,"k1":9,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8}`},
	{"nested objects", `{"b":{"1":1,"0":0},"a":[{"y":1,"x":2,"y":3}]}`, `{"b":{"0":0,"1":1},"a":[{"y":3,"x":2}]}`},
	{"__proto__ is an ordinary key", `{"__proto__":1,"a":2}`, `{"__proto__":1,"a":2}`},
	// Numbers.
	{"1.0", `1.0`, `1`},
	{"-0", `-0`, `0`},
	{"-0.0", `-0.0`, `0`},
	{"1e21", `1e21`, `1e+21`},
	{"1e20", `1e20`, `100000000000000000000`},
	{"1e-7", `1e-7`, `1e-7`},
	{"1e-6", `1e-6`, `0.000001`},
	{"1e16", `1e16`, `10000000000000000`},
	{"lost low digits", `123456789012345678`, `123456789012345680`},
	{"2^53+1", `9007199254740993`, `9007199254740992`},
	{"overflow", `[1e400,-1e400]`, `[null,null]`},
	{"underflow", `[1e-400,-1e-400]`, `[0,0]`},
	{"smallest subnormal", `5e-324`, `5e-324`},
	{"largest double", `1.7976931348623157e308`, `1.7976931348623157e+308`},
	{"exponent forms", `[1E+2,1e-0,123e-20,1.5e300]`, `[100,1,1.23e-18,1.5e+300]`},
	{"shortest round trip", `[0.1,0.30000000000000004,0.000001234]`, `[0.1,0.30000000000000004,0.000001234]`},
	{"small integers as written", `[100,-5,123456789012345]`, `[100,-5,123456789012345]`},
	// Strings.
	{"solidus unescaped", `"\/"`, `"/"`},
	{"letters unescaped", `"\u0041\u00E9"`, `"Aé"`},
	{"short escapes kept", `"\b\f\n\r\t\"\\"`, `"\b\f\n\r\t\"\\"`},
	{"escaped quote and backslash", `"\u0022\u005c"`, `"\"\\"`},
	{"control characters, lowercase hex", `"\u0000\u001F\u000b"`, `"\u0000\u001f\u000b"`},
	{"DEL raw", `"\u007f"`, "\"\x7f\""},
	{"U+2028 and U+2029 raw", `"\u2028\u2029"`, "\"\u2028\u2029\""},
	{"<>& raw", `"<>&'"`, `"<>&'"`},
	{"surrogate pair", `"\ud83d\ude00"`, `"😀"`},
	{"lone surrogates escaped", `["\ud800","\uDC00","\ud800\ud800"]`, `["\ud800","\udc00","\ud800\ud800"]`},
	{"encoded surrogate is three U+FFFD", "\"\xed\xa0\x80\"", "\"\ufffd\ufffd\ufffd\""},
	{"invalid byte is U+FFFD", "\"\xff\"", "\"\ufffd\""},
	{"overlong is U+FFFD per byte", "\"\xc0\x80\"", "\"\ufffd\ufffd\""},
	{"truncated sequence is one U+FFFD", "[\"\xe2\x82\",\"\xf0\x9f\x98\"]", "[\"\ufffd\",\"\ufffd\"]"},
	{"beyond U+10FFFF", "\"\xf4\x90\x80\x80\"", "\"\ufffd\ufffd\ufffd\ufffd\""},
	// Structure and whitespace.
	{"literals", `[true,false,null]`, `[true,false,null]`},
	{"whitespace dropped", " \t\n\r[ 1 ,\n2 ] ", `[1,2]`},
	{"empty containers", `[{ },[ ]]`, `[{},[]]`},
	{"top-level scalar", ` "x" `, `"x"`},
	// Errors.
	{"byte order mark", "\xef\xbb\xbf[]", bad},
	{"NaN", `NaN`, bad},
	{"Infinity", `[Infinity]`, bad},
	{"trailing comma", `[1,]`, bad},
	{"trailing comma in object", `{"a":1,}`, bad},
	{"leading zero", `01`, bad},
	{"bad escape", `"\x41"`, bad},
	{"raw control character", "\"a\tb\"", bad},
	{"fraction without digits", `1.`, bad},
	{"no integer part", `.5`, bad},
	{"plus sign", `+1`, bad},
	{"unterminated string", `"abc`, bad},
	{"empty", ``, bad},
	{"trailing garbage", `[1] x`, bad},
	{"single quotes", `'a'`, bad},
	{"unquoted key", `{a:1}`, bad},
	{"non-breaking space", "[1,\u00a02]", bad},
	{"vertical tab", "[1,\v2]", bad},
	{"UTF-16 is not detected", "1\x00", bad},
}

// pyRules has one entry per json.dumps(json.loads(b)) rule.
// TestRuleTablesAgainstOracles checks every want against CPython.
var pyRules = []struct {
	name, in string
	opts     PythonOptions
	want     string
}{
	// Object members.
	{"insertion order, index keys too", `{"b":1,"2":2,"1":3}`, PythonOptions{}, `{"b": 1, "2": 2, "1": 3}`},
	{"duplicate: first position, last value", `{"a":1,"b":2,"a":3}`, PythonOptions{}, `{"a": 3, "b": 2}`},
	{"duplicate after unescaping", `{"\u00e9":1,"é":2}`, PythonOptions{}, `{"\u00e9": 2}`},
	{"astral key and lone surrogates differ", "{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\xed\xb8\x80\":2,\"\\ud83d\\ude00\":3}", PythonOptions{}, `{"\ud83d\ude00": 3, "\ud83d\ude00": 2}`},
	// Numbers.
	{"int", `1`, PythonOptions{}, `1`},
	{"float keeps .0", `1.0`, PythonOptions{}, `1.0`},
	{"-0 int", `-0`, PythonOptions{}, `0`},
	{"-0.0 float", `-0.0`, PythonOptions{}, `-0.0`},
	{"repr 1e16", `1e16`, PythonOptions{}, `1e+16`},
	{"repr 1e15", `1e15`, PythonOptions{}, `1000000000000000.0`},
	{"repr 1e-5", `1e-5`, PythonOptions{}, `1e-05`},
	{"repr 1e-4", `1e-4`, PythonOptions{}, `0.0001`},
	{"exponent makes a float", `1E2`, PythonOptions{}, `100.0`},
	{"overflow", `[1e400,-1e400]`, PythonOptions{}, `[Infinity, -Infinity]`},
	{"underflow", `[1e-400,-1e-400]`, PythonOptions{}, `[0.0, -0.0]`},
	{"big int exact", `123456789012345678901234567890`, PythonOptions{}, `123456789012345678901234567890`},
	{"float rounding", `12345678901234567.0`, PythonOptions{}, `1.2345678901234568e+16`},
	{"smallest subnormal", `5e-324`, PythonOptions{}, `5e-324`},
	{"three-digit exponent", `1.5e300`, PythonOptions{}, `1.5e+300`},
	{"NaN and infinities", `[NaN,Infinity,-Infinity]`, PythonOptions{}, `[NaN, Infinity, -Infinity]`},
	{"4300-digit int", "1" + strings.Repeat("0", 4299), PythonOptions{}, "1" + strings.Repeat("0", 4299)},
	// Strings.
	{"ensure_ascii escapes non-ASCII", `"é\u00E9"`, PythonOptions{}, `"\u00e9\u00e9"`},
	{"ensure_ascii escapes DEL", "\"\x7f\"", PythonOptions{}, `"\u007f"`},
	{"ensure_ascii writes astral as a pair", `"😀"`, PythonOptions{}, `"\ud83d\ude00"`},
	{"ensure_ascii escapes U+2028", "\"\u2028\"", PythonOptions{}, `"\u2028"`},
	{"lone surrogate", `"\ud800"`, PythonOptions{}, `"\ud800"`},
	{"encoded surrogate accepted", "\"\xed\xa0\x80\"", PythonOptions{}, `"\ud800"`},
	{"solidus and <>&", `"\/<>&"`, PythonOptions{}, `"/<>&"`},
	{"control characters", `"\u0000\u001f\b"`, PythonOptions{}, `"\u0000\u001f\b"`},
	{"ensure_ascii=False writes UTF-8", `"\u00e9😀"`, PythonOptions{KeepNonASCII: true}, `"é😀"`},
	{"ensure_ascii=False writes DEL raw", `"\u007f"`, PythonOptions{KeepNonASCII: true}, "\"\x7f\""},
	{"ensure_ascii=False lone surrogate as WTF-8", `"\ud800"`, PythonOptions{KeepNonASCII: true}, "\"\xed\xa0\x80\""},
	// Separators.
	{"default separators", `{"a":[1,2]}`, PythonOptions{}, `{"a": [1, 2]}`},
	{"compact separators", `{ "a" : [ 1 , 2 ] }`, PythonOptions{Compact: true}, `{"a":[1,2]}`},
	// Input encodings.
	{"byte order mark skipped", "\xef\xbb\xbf[1]", PythonOptions{}, `[1]`},
	{"UTF-16LE detected", "[\x001\x00]\x00", PythonOptions{}, `[1]`},
	{"UTF-16BE with BOM", "\xfe\xff\x00\"\xd8\x3d\xde\x00\x00\"", PythonOptions{KeepNonASCII: true}, `"😀"`},
	{"UTF-32LE detected", "7\x00\x00\x00", PythonOptions{}, `7`},
	{"UTF-16 lone surrogate", "\x00\"\xd8\x00\x00\"", PythonOptions{}, `"\ud800"`},
	// Errors.
	{"invalid UTF-8", "[\"\xff\"]", PythonOptions{}, bad},
	{"overlong UTF-8", "[\"\xc0\x80\"]", PythonOptions{}, bad},
	{"4301-digit int", "-1" + strings.Repeat("0", 4300), PythonOptions{}, bad},
	{"-NaN", `-NaN`, PythonOptions{}, bad},
	{"lowercase nan", `nan`, PythonOptions{}, bad},
	{"two byte order marks", "\xef\xbb\xbf\xef\xbb\xbf1", PythonOptions{}, bad},
	{"UTF-16 truncated", "[\x001\x00]", PythonOptions{}, bad},
	{"UTF-32 beyond U+10FFFF", "1\x00\x00\x00\x00\x00\x11\x00", PythonOptions{}, bad},
	{"UTF-16 BOM twice", "\xff\xfe\xff\xfe1\x00", PythonOptions{}, bad},
	{"trailing comma", `[1,]`, PythonOptions{}, bad},
	{"raw control character", "\"\x1f\"", PythonOptions{}, bad},
}

func TestJSRules(t *testing.T) {
	for _, tt := range jsRules {
		got, err := JS([]byte(tt.in))
		if tt.want == bad {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%s: JS(%q) = %q, %v; want a *SyntaxError", tt.name, tt.in, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: JS(%q) = %q, %v; want %q", tt.name, tt.in, got, err, tt.want)
		}
	}
}

func TestPythonRules(t *testing.T) {
	for _, tt := range pyRules {
		got, err := Python([]byte(tt.in), &tt.opts)
		if tt.want == bad {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%s: Python(%q, %+v) = %q, %v; want a *SyntaxError", tt.name, tt.in, tt.opts, got, err)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: Python(%q, %+v) = %q, %v; want %q", tt.name, tt.in, tt.opts, got, err, tt.want)
		}
	}
}

// TestRuleTablesAgainstOracles makes sure the tables above say what Node and
// CPython actually do.
func TestRuleTablesAgainstOracles(t *testing.T) {
	t.Run("node", func(t *testing.T) {
		docs := make([][]byte, len(jsRules))
		for i, tt := range jsRules {
			docs[i] = []byte(tt.in)
		}
		for i, res := range oracleJS(t, docs...) {
			tt := jsRules[i]
			switch {
			case res.err != "" && tt.want != bad:
				t.Errorf("%s: node raised %q, table wants %q", tt.name, res.err, tt.want)
			case res.err == "" && string(res.outs[0]) != tt.want:
				t.Errorf("%s: node wrote %q, table wants %q", tt.name, res.outs[0], tt.want)
			}
		}
	})
	t.Run("python", func(t *testing.T) {
		docs := make([][]byte, len(pyRules))
		for i, tt := range pyRules {
			docs[i] = []byte(tt.in)
		}
		for i, res := range oraclePython(t, docs...) {
			tt := pyRules[i]
			v := 0
			for k, pv := range pyVariants {
				if pv.opts == tt.opts {
					v = k
				}
			}
			switch {
			case res.err != "" && tt.want != bad:
				t.Errorf("%s: python raised %q, table wants %q", tt.name, res.err, tt.want)
			case res.err == "" && string(res.outs[v]) != tt.want:
				t.Errorf("%s: python wrote %q, table wants %q", tt.name, res.outs[v], tt.want)
			}
		}
	})
}

func TestNilPythonOptions(t *testing.T) {
	in := []byte(`{"a":[1.0,"é"]}`)
	a, err1 := Python(in, nil)
	b, err2 := Python(in, &PythonOptions{})
	if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
		t.Fatalf("Python(nil) = %q, %v; Python(&PythonOptions{}) = %q, %v", a, err1, b, err2)
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	prefix := []byte("prefix:")
	dst := append(make([]byte, 0, 64), prefix...)
	out, err := AppendJS(dst, []byte(`{"b":1,"0":2}`))
	if err != nil || string(out) != `prefix:{"0":2,"b":1}` {
		t.Errorf("AppendJS = %q, %v", out, err)
	}
	out, err = AppendPython(dst, []byte(`{"b":1,"0":2}`), &PythonOptions{Compact: true})
	if err != nil || string(out) != `prefix:{"b":1,"0":2}` {
		t.Errorf("AppendPython = %q, %v", out, err)
	}
	// On error dst comes back unchanged, even if the failed conversion wrote
	// into its spare capacity.
	for _, in := range []string{`{"a":[1,2,3`, `["\ud800", 01]`, `{"b":1,"a":2,"b":3,}`} {
		out, err = AppendJS(dst, []byte(in))
		if err == nil || string(out) != "prefix:" {
			t.Errorf("AppendJS(%q) = %q, %v; want the prefix and an error", in, out, err)
		}
		out, err = AppendPython(dst, []byte(in), nil)
		if err == nil || string(out) != "prefix:" {
			t.Errorf("AppendPython(%q) = %q, %v; want the prefix and an error", in, out, err)
		}
	}
}

func TestDepth(t *testing.T) {
	nest := func(n int, open, close string) []byte {
		return []byte(strings.Repeat(open, n) + strings.Repeat(close, n))
	}
	for _, c := range []struct {
		name        string
		open, close string
	}{
		{"array", "[", "]"},
		{"object", `{"a":`, "1}"},
	} {
		in := nest(MaxDepth, c.open, c.close)
		if c.name == "object" {
			in = []byte(strings.Repeat(c.open, MaxDepth) + "1" + strings.Repeat("}", MaxDepth))
		}
		got, err := JS(in)
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%s nested %d deep: JS = %.40q, %v; want the input back", c.name, MaxDepth, got, err)
		}
		got, err = Python(in, &PythonOptions{Compact: true})
		if err != nil || !bytes.Equal(got, in) {
			t.Errorf("%s nested %d deep: Python = %.40q, %v; want the input back", c.name, MaxDepth, got, err)
		}

		in = nest(MaxDepth+1, c.open, c.close)
		if c.name == "object" {
			in = []byte(strings.Repeat(c.open, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1))
		}
		wantOff := int64(MaxDepth * len(c.open))
		for mode, conv := range map[string]func([]byte) ([]byte, error){
			"JS":     JS,
			"Python": func(b []byte) ([]byte, error) { return Python(b, nil) },
		} {
			_, err := conv(in)
			var se *SyntaxError
			if !errors.As(err, &se) || se.Offset != wantOff {
				t.Errorf("%s nested %d deep: %s error %v, want a *SyntaxError at offset %d", c.name, MaxDepth+1, mode, err, wantOff)
			}
		}
	}
}

// bigDocument returns an array of objects of about size bytes that every
// mode writes back unchanged (compact separators for Python). A block of
// distinct objects is repeated, which keeps building 100 MB cheap under -race.
func bigDocument(size int) []byte {
	var block []byte
	for i := 0; len(block) < min(size, 1<<16); i++ {
		block = append(block, `{"id":`...)
		block = strconv.AppendInt(block, int64(i), 10)
		block = append(block, `,"name":"user `...)
		block = strconv.AppendInt(block, int64(i*7919%100003), 10)
		block = append(block, `","tags":["a","b\n","é"],"score":`...)
		block = strconv.AppendFloat(block, float64(i%1000)/8, 'f', -1, 64)
		block = append(block, `,"active":true,"ref":null},`...)
	}
	b := make([]byte, 0, size+len(block)+1)
	b = append(b, '[')
	for len(b) < size {
		b = append(b, block...)
	}
	b[len(b)-1] = ']' // the last comma
	return b
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// convertCounting converts in with JS and reports the output, how many
// heap allocations that took, and how many bytes they came to.
func convertCounting(t *testing.T, in []byte) (out []byte, mallocs, allocated uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := JS(in)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	return out, after.Mallocs - before.Mallocs, after.TotalAlloc - before.TotalAlloc
}

// TestHundredMegabytes converts a 100 MB document. It must take one output
// buffer of memory and as many allocations as a 1 MB document of the same
// kind: nothing is allocated per token or per megabyte, so the work is one
// pass over the input. These bounds count, they do not time, so a busy
// machine cannot fail them (an earlier time-ratio bound did once); the
// speed itself is BenchmarkJS's to measure, and the time is logged.
func TestHundredMegabytes(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping 100 MB conversion in -short mode")
	}
	_, smallMallocs, _ := convertCounting(t, bigDocument(1<<20))

	in := bigDocument(100 << 20)
	start := time.Now()
	out, mallocs, alloc := convertCounting(t, in)
	elapsed := time.Since(start)
	if !bytes.Equal(out, in) {
		t.Fatal("JS output differs from the (already canonical) input")
	}
	t.Logf("JS: %d MB in %v (%.0f MB/s), %d MB allocated in %d allocations (1 MB: %d)",
		len(in)>>20, elapsed, float64(len(in))/1e6/elapsed.Seconds(), alloc>>20, mallocs, smallMallocs)
	if alloc > uint64(len(in)+len(in)/4) {
		t.Errorf("allocated %d bytes for a %d-byte input, want about one output buffer", alloc, len(in))
	}
	// A few more for the runtime's own bookkeeping during a long call.
	if mallocs > smallMallocs+16 {
		t.Errorf("100 MB took %d allocations, 1 MB %d: the allocations grow with the input", mallocs, smallMallocs)
	}

	if raceEnabled() {
		return // the Python pass would double a slow test for no new coverage
	}
	out, err := AppendPython(out[:0], in, &PythonOptions{Compact: true, KeepNonASCII: true})
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("Python compact output differs from the input (error %v)", err)
	}
}

func TestErrorOffsets(t *testing.T) {
	for _, tt := range []struct {
		in     string
		python bool
		off    int64
	}{
		{``, false, 0},
		{`   `, false, 3},
		{`[1,2,]`, false, 5},
		{`{"a":1,}`, false, 7},
		{`[01]`, false, 2},
		{`"abc`, false, 0},
		{"[\"a\tb\"]", false, 3},
		{`["\x41"]`, false, 2},
		{`["\u12G4"]`, false, 2},
		{`{"a" 1}`, false, 5},
		{`{"a":}`, false, 5},
		{`tru`, false, 0},
		{`[1] x`, false, 4},
		{`1.`, false, 2},
		{`[1e+]`, false, 4},
		{`-`, false, 1},
		{`[1 2]`, false, 3},
		{"\xef\xbb\xbf[]", false, 0},
		{"[NaN]", false, 1},
		{"\xef\xbb\xbf[", true, 4},
		{"[\"ab\xff\"]", true, 4},
		{"[\"\xed\xa0\"]", true, 2},
		{"[1,\n" + strings.Repeat("9", 4301) + "]", true, 4},
		{"[\x00,\x00", true, 2},              // UTF-16LE "[,": the comma
		{"\xff\xfe[\x00,\x00]\x00", true, 4}, // with a byte order mark
		{"[\x001\x00]", true, 4},             // truncated UTF-16
		{"\x00\x00\x00[\x00\x00\x00x", true, 4},
		{"\x00\"\xd8\x3d\xde\x00\x00\"\x00x", true, 8}, // after a surrogate pair
	} {
		var err error
		mode := "JS"
		if tt.python {
			mode = "Python"
			_, err = Python([]byte(tt.in), nil)
		} else {
			_, err = JS([]byte(tt.in))
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("%s(%q): error %v, want a *SyntaxError", mode, tt.in, err)
			continue
		}
		if se.Offset != tt.off {
			t.Errorf("%s(%q): offset %d, want %d (%v)", mode, tt.in, se.Offset, tt.off, err)
		}
		if want := fmt.Sprintf("at byte offset %d", se.Offset); !strings.HasSuffix(se.Error(), want) {
			t.Errorf("%s(%q): message %q does not end with %q", mode, tt.in, se.Error(), want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	docs := [][]byte{
		[]byte(`{"b":[1.0,{"2":0,"1":1}],"a":"é","b":null}`),
		[]byte(`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k1":9}`),
		[]byte(`[1e21,"\ud800",{"x":{"y":{"z":[]}}}]`),
	}
	want := make([][]byte, len(docs))
	for i, d := range docs {
		var err error
		if want[i], err = JS(d); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for k := range 200 {
				i := (g + k) % len(docs)
				got, err := JS(docs[i])
				if err != nil || !bytes.Equal(got, want[i]) {
					done <- fmt.Errorf("JS(%q) = %q, %v; want %q", docs[i], got, err, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
