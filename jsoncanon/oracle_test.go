package jsoncanon

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// The oracles are the real serializers: one long-lived node process and one
// long-lived python3 process per test binary, started on first use and
// shared by every test. They speak a line protocol that cannot alter bytes,
// described in testdata/oracle/oracle.js and oracle.py: a request is the
// base64 of the input on one line, a response "ok <base64>..." or
// "err <message>" on one line.

// pyVariant is one of the json.dumps argument sets the Python oracle
// answers for, in the order of its response.
type pyVariant struct {
	name string // for test names and messages
	file string // golden want file, "" if the golden test does not keep one
	opts PythonOptions
}

var pyVariants = [4]pyVariant{
	{"default", "want.py.json", PythonOptions{}},
	{"compact", "want.py-compact.json", PythonOptions{Compact: true}},
	{"utf8", "want.py-utf8.json", PythonOptions{KeepNonASCII: true}},
	{"compact-utf8", "", PythonOptions{Compact: true, KeepNonASCII: true}},
}

// oracleResult is an oracle's answer for one input: outs holds the output
// bytes (one for node, one per pyVariants entry for python) when err is
// empty; err is the exception the oracle raised otherwise.
type oracleResult struct {
	outs [][]byte
	err  string
}

// oracle is one running oracle process.
type oracle struct {
	name  string
	nouts int // outputs per ok response

	mu     sync.Mutex // serializes batches
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	broken error // once set, every query fails with it
}

// startOracle starts argv as an oracle process. It returns an error
// wrapping exec.ErrNotFound if the program is not installed.
func startOracle(name string, nouts int, argv ...string) (*oracle, error) {
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s oracle: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s oracle: %w", name, err)
	}
	o := &oracle{name: name, nouts: nouts, cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<16)}
	// Fail now, not in the middle of a test, if the script does not run.
	if _, err := o.query([][]byte{[]byte("[1]")}); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

// query sends docs as one pipelined batch and returns the answers in order.
func (o *oracle) query(docs [][]byte) ([]oracleResult, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.broken != nil {
		return nil, o.broken
	}
	// Write from another goroutine so that neither side blocks on a full
	// pipe while the other waits.
	werr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(o.stdin, 1<<16)
		enc := base64.StdEncoding
		var line []byte
		for _, d := range docs {
			line = enc.AppendEncode(line[:0], d)
			line = append(line, '\n')
			if _, err := w.Write(line); err != nil {
				werr <- err
				return
			}
		}
		werr <- w.Flush()
	}()
	res := make([]oracleResult, len(docs))
	var rerr error
	for i := range docs {
		line, err := o.stdout.ReadBytes('\n')
		if err != nil {
			rerr = fmt.Errorf("%s oracle: reading response %d: %w", o.name, i, err)
			break
		}
		line = bytes.TrimSuffix(line, []byte("\n"))
		switch {
		case bytes.HasPrefix(line, []byte("err ")):
			res[i].err = string(line[4:])
			if res[i].err == "" {
				res[i].err = "(no message)"
			}
		case bytes.HasPrefix(line, []byte("ok ")):
			fields := bytes.Split(line[3:], []byte(" "))
			if len(fields) != o.nouts {
				rerr = fmt.Errorf("%s oracle: response %d has %d outputs, want %d", o.name, i, len(fields), o.nouts)
				break
			}
			for _, f := range fields {
				out, err := base64.StdEncoding.AppendDecode(nil, f)
				if err != nil {
					rerr = fmt.Errorf("%s oracle: response %d: %w", o.name, i, err)
					break
				}
				res[i].outs = append(res[i].outs, out)
			}
		default:
			rerr = fmt.Errorf("%s oracle: malformed response %d: %.200q", o.name, i, line)
		}
		if rerr != nil {
			break
		}
	}
	if err := <-werr; err != nil && rerr == nil {
		rerr = fmt.Errorf("%s oracle: writing requests: %w", o.name, err)
	}
	if rerr != nil {
		o.broken = rerr
		return nil, rerr
	}
	return res, nil
}

func (o *oracle) close() {
	o.stdin.Close()
	o.cmd.Wait()
}

type lazyOracle struct {
	once sync.Once
	o    *oracle
	err  error
	argv []string
	name string
	n    int
}

func (l *lazyOracle) get(tb testing.TB) *oracle {
	tb.Helper()
	l.once.Do(func() { l.o, l.err = startOracle(l.name, l.n, l.argv...) })
	if l.err != nil {
		if errors.Is(l.err, exec.ErrNotFound) && os.Getenv("CI") == "" {
			tb.Skipf("skipping: %v (the oracle is required when CI is set)", l.err)
		}
		tb.Fatal(l.err)
	}
	return l.o
}

func (l *lazyOracle) shutdown() {
	if l.o != nil {
		l.o.close()
	}
}

var (
	nodeOracle = &lazyOracle{
		name: "node", n: 1,
		argv: []string{"node", filepath.Join("testdata", "oracle", "oracle.js")},
	}
	// -I: isolated mode, so no PYTHON* variable or user site changes json.
	pythonOracle = &lazyOracle{
		name: "python3", n: len(pyVariants),
		argv: []string{"python3", "-I", filepath.Join("testdata", "oracle", "oracle.py")},
	}
)

// TestMain stops the oracles, if they were started, once the tests are done.
func TestMain(m *testing.M) {
	code := m.Run()
	nodeOracle.shutdown()
	pythonOracle.shutdown()
	os.Exit(code)
}

// oracleJS returns Node's answers for docs.
func oracleJS(tb testing.TB, docs ...[]byte) []oracleResult {
	tb.Helper()
	res, err := nodeOracle.get(tb).query(docs)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// oraclePython returns CPython's answers for docs, outs in pyVariants order.
func oraclePython(tb testing.TB, docs ...[]byte) []oracleResult {
	tb.Helper()
	res, err := pythonOracle.get(tb).query(docs)
	if err != nil {
		tb.Fatal(err)
	}
	return res
}

// checkAgainst compares what jsoncanon returned (got, err) with an oracle's
// answer (want, or wantErr if the oracle raised) and returns a description of
// the difference, or "" if they agree.
func checkAgainst(got []byte, err error, want []byte, wantErr string) string {
	if wantErr != "" {
		if err == nil {
			return fmt.Sprintf("oracle raised %q\n\tbut got %q", wantErr, got)
		}
		var se *SyntaxError
		if !errors.As(err, &se) {
			return fmt.Sprintf("oracle raised %q\n\tgot error of type %T, want *SyntaxError: %v", wantErr, err, err)
		}
		return ""
	}
	if err != nil {
		return fmt.Sprintf("want %q\n\tgot error %v", want, err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		return fmt.Sprintf("want %q\n\tgot  %q\n\tfirst difference at output byte %d: want %.30q, got %.30q",
			want, got, i, want[i:], got[i:])
	}
	return ""
}
