package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runCanon runs "hookrelay canon args..." in process with stdin as input.
func runCanonCmd(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: stdin, stdout: &out, stderr: &errb, getenv: func(string) string { return "" }}
	code = run(context.Background(), e, append([]string{"canon"}, args...))
	return code, out.String(), errb.String()
}

func TestCanonOutput(t *testing.T) {
	const in = "{\"b\":1.0,\"a\":\"é\",\"2\":[1e21,\"\\u2028\"]}\n"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--style", "js"}, "{\"2\":[1e+21,\"\u2028\"],\"b\":1,\"a\":\"é\"}"},
		{[]string{"--style=python"}, `{"b": 1.0, "a": "\u00e9", "2": [1e+21, "\u2028"]}`},
		{[]string{"--style", "python", "--separators", "compact"}, `{"b":1.0,"a":"\u00e9","2":[1e+21,"\u2028"]}`},
		{[]string{"--style", "python", "--ensure-ascii=false"}, "{\"b\": 1.0, \"a\": \"é\", \"2\": [1e+21, \"\u2028\"]}"},
		{[]string{"--style", "python", "--separators=compact", "--ensure-ascii=false"}, "{\"b\":1.0,\"a\":\"é\",\"2\":[1e+21,\"\u2028\"]}"},
		{[]string{"--style", "python", "--separators=default", "--ensure-ascii=true"}, `{"b": 1.0, "a": "\u00e9", "2": [1e+21, "\u2028"]}`},
	} {
		code, stdout, stderr := runCanonCmd(t, strings.NewReader(in), tt.args...)
		if code != 0 || stdout != tt.want || stderr != "" {
			t.Errorf("canon %s: exit %d, stdout %q, stderr %q; want exit 0, stdout %q (no trailing newline), no stderr",
				strings.Join(tt.args, " "), code, stdout, stderr, tt.want)
		}
	}
}

func TestCanonPythonOnlyInput(t *testing.T) {
	// NaN and a byte order mark are valid for json.loads only.
	for _, in := range []string{"[NaN,-Infinity]", "\xef\xbb\xbf[NaN,-Infinity]"} {
		code, stdout, stderr := runCanonCmd(t, strings.NewReader(in), "--style", "python")
		if code != 0 || stdout != "[NaN, -Infinity]" {
			t.Errorf("python %q: exit %d, stdout %q, stderr %q", in, code, stdout, stderr)
		}
		code, stdout, _ = runCanonCmd(t, strings.NewReader(in), "--style", "js")
		if code != 1 || stdout != "" {
			t.Errorf("js %q: exit %d, stdout %q; want exit 1 and no output", in, code, stdout)
		}
	}
}

func TestCanonInvalidJSON(t *testing.T) {
	for _, tt := range []struct {
		in     string
		args   []string
		offset int
	}{
		{`{"amount":10,}`, []string{"--style", "js"}, 13},
		{`{"amount":10,}`, []string{"--style", "python"}, 13},
		{``, []string{"--style", "js"}, 0},
		{"[1,2]\n]", []string{"--style", "js"}, 6},
		{`[NaN]`, []string{"--style", "js"}, 1},
		{"[\"\xff\"]", []string{"--style", "python", "--ensure-ascii=false"}, 2},
		{"[" + strings.Repeat("7", 4301) + "]", []string{"--style", "python", "--separators", "compact"}, 1},
		{strings.Repeat("[", 10001) + strings.Repeat("]", 10001), []string{"--style", "js"}, 10000},
	} {
		code, stdout, stderr := runCanonCmd(t, strings.NewReader(tt.in), tt.args...)
		want := "byte offset " + strconv.Itoa(tt.offset)
		if code != 1 || stdout != "" || !strings.Contains(stderr, want) || !strings.HasPrefix(stderr, "hookrelay canon: ") {
			t.Errorf("canon %s < %.40q: exit %d, stdout %q, stderr %q; want exit 1, no output, a message naming %q",
				strings.Join(tt.args, " "), tt.in, code, stdout, stderr, want)
		}
	}
}

func TestCanonUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--style", "ruby"},
		{"--style", ""},
		{"--style", "python", "--separators", "wide"},
		{"--style", "python", "--ensure-ascii=maybe"},
		{"--style", "js", "--separators", "compact"},
		{"--style", "js", "--ensure-ascii=false"},
		{"--bogus"},
		{"--style"},
		{"--style", "js", "extra.json"},
	} {
		code, stdout, stderr := runCanonCmd(t, strings.NewReader(`{}`), args...)
		if code != 2 || stdout != "" || stderr == "" {
			t.Errorf("canon %q: exit %d, stdout %q, stderr %q; want exit 2, no output, a message", args, code, stdout, stderr)
		}
	}
}

func TestCanonHelp(t *testing.T) {
	code, stdout, stderr := runCanonCmd(t, strings.NewReader(""), "-h")
	if code != 0 || stdout != "" || !strings.Contains(stderr, "--style") {
		t.Errorf("canon -h: exit %d, stdout %q, stderr %q; want exit 0 and the usage on stderr", code, stdout, stderr)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestCanonIOErrors(t *testing.T) {
	code, stdout, stderr := runCanonCmd(t, failingReader{}, "--style", "js")
	if code != 1 || stdout != "" || !strings.Contains(stderr, "disk on fire") {
		t.Errorf("read error: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	var errb bytes.Buffer
	e := &env{stdin: strings.NewReader("[1]"), stdout: failingWriter{}, stderr: &errb, getenv: func(string) string { return "" }}
	if code := run(context.Background(), e, []string{"canon", "--style", "js"}); code != 1 || !strings.Contains(errb.String(), "broken pipe") {
		t.Errorf("write error: exit %d, stderr %q", code, errb.String())
	}
}

// cliDocument returns a pretty-printed JSON array of about size bytes of
// webhook-like events.
func cliDocument(size int) []byte {
	var b bytes.Buffer
	b.WriteString("[\n")
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		fmt.Fprintf(&b, `  {"id": "evt_%08d", "type": "charge.succeeded", "created": %d, "amount": %d.%02d,
   "customer": {"name": "Zoë Müller %d", "email": "c%d@example.com", "tags": ["vip", "東京", "😀"]},
   "metadata": {"10": "x", "2": null, "note": "line\nbreak \"quoted\""}, "ratio": %g, "ok": %t}`,
			i, 1718000000+i, i%100000, i%100, i, i, float64(i)/7, i%3 == 0)
	}
	b.WriteString("\n]\n")
	return b.Bytes()
}

// TestCanonBinaryVsNode builds hookrelay and times "hookrelay canon --style
// js" against node doing the same on a ~20 MB document. The outputs must be
// identical; the test fails only if hookrelay is more than twice as slow.
func TestCanonBinaryVsNode(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping the build-and-time test in -short mode")
	}
	for _, tool := range []string{"go", "node"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required when CI is set: %v", tool, err)
			}
			t.Skipf("skipping: %v", err)
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "hookrelay")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	input := filepath.Join(dir, "input.json")
	doc := cliDocument(20 << 20)
	if err := os.WriteFile(input, doc, 0o644); err != nil {
		t.Fatal(err)
	}

	const nodeScript = `const b = require('fs').readFileSync(0);
process.stdout.write(Buffer.from(JSON.stringify(JSON.parse(b.toString('utf8'))), 'utf8'));`
	timeIt := func(name string, args ...string) ([]byte, time.Duration) {
		var best time.Duration
		var out []byte
		for range 3 {
			f, err := os.Open(input)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Stdin = f
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err = cmd.Run()
			d := time.Since(start)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v\n%s", name, err, stderr.Bytes())
			}
			if best == 0 || d < best {
				best = d
			}
			out = stdout.Bytes()
		}
		return out, best
	}
	hrOut, hrTime := timeIt("hookrelay", bin, "canon", "--style", "js")
	nodeOut, nodeTime := timeIt("node", "node", "-e", nodeScript)
	if !bytes.Equal(hrOut, nodeOut) {
		t.Errorf("hookrelay and node outputs differ (%d and %d bytes)", len(hrOut), len(nodeOut))
	}
	ratio := hrTime.Seconds() / nodeTime.Seconds()
	t.Logf("%d MB: hookrelay canon %v (%.0f MB/s), node %v (%.0f MB/s); hookrelay takes %.2fx node's time",
		len(doc)>>20, hrTime.Round(time.Millisecond), float64(len(doc))/1e6/hrTime.Seconds(),
		nodeTime.Round(time.Millisecond), float64(len(doc))/1e6/nodeTime.Seconds(), ratio)
	if ratio > 2 {
		t.Errorf("hookrelay canon is %.1fx slower than node", ratio)
	}
}
