package jsoncanon

import (
	"fmt"
	"sync"
)

// MaxDepth is the deepest nesting of arrays and objects accepted. A document
// nested 10,000 levels deep is written; one level more is a [*SyntaxError].
const MaxDepth = 10000

// A SyntaxError reports JSON text that the target language's parser would
// refuse. Offset is the byte offset in the input where the problem was found.
type SyntaxError struct {
	Offset int64
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("jsoncanon: %s at byte offset %d", e.msg, e.Offset)
}

// PythonOptions are the json.dumps keyword arguments that change its output.
// The zero value, and a nil *PythonOptions, mean json.dumps's defaults.
type PythonOptions struct {
	// Compact writes separators=(',', ':') instead of the default
	// (', ', ': ').
	Compact bool

	// KeepNonASCII writes non-ASCII characters as UTF-8, as
	// ensure_ascii=False does, instead of as \uXXXX escapes.
	KeepNonASCII bool
}

// JS returns the bytes of JSON.stringify(JSON.parse(text)), where text is
// src decoded as UTF-8 the way Node.js decodes a request body. It returns a
// [*SyntaxError] if JSON.parse would throw.
func JS(src []byte) ([]byte, error) {
	return AppendJS(make([]byte, 0, len(src)+16), src)
}

// AppendJS appends the bytes [JS] returns to dst and returns the extended
// buffer. On error it returns dst unchanged.
func AppendJS(dst, src []byte) ([]byte, error) {
	return appendCanon(dst, src, modeJS)
}

// Python returns the bytes of json.dumps(json.loads(src)) as CPython 3
// writes them, with the json.dumps arguments opts selects (nil for the
// defaults), encoded as UTF-8. It returns a [*SyntaxError] if json.loads
// would raise.
func Python(src []byte, opts *PythonOptions) ([]byte, error) {
	n := len(src) + 16
	if opts == nil || !opts.Compact {
		n += len(src) / 8
	}
	return AppendPython(make([]byte, 0, n), src, opts)
}

// AppendPython appends the bytes [Python] returns to dst and returns the
// extended buffer. On error it returns dst unchanged.
func AppendPython(dst, src []byte, opts *PythonOptions) ([]byte, error) {
	m := modePython
	if opts != nil {
		if opts.Compact {
			m |= modeCompact
		}
		if opts.KeepNonASCII {
			m |= modeKeepNonASCII
		}
	}
	return appendCanon(dst, src, m)
}

type mode uint8

const (
	modeJS     mode = 0
	modePython mode = 1 << iota
	modeCompact
	modeKeepNonASCII
)

// member records where one object member was written in the output:
// out[seg:keyEnd] is the encoded key with its quotes and out[seg:end] the
// whole "key":value segment, separators excluded. src is the offset of the
// key's opening quote in the source.
type member struct {
	seg, keyEnd, end, src int
}

// encoder is the state of one conversion. It is pooled so that its scratch
// slices are reused across calls.
type encoder struct {
	src   []byte
	pos   int
	out   []byte
	mode  mode
	depth int

	colon, comma string

	members []member // one stack shared by all open objects
	order   []int    // scratch: members kept, in first-appearance order
	final   []int    // scratch: members in output order
	index   []indexKey
	table   []int32
	tmp     []byte
	wide    []byte // scratch: UTF-16 or UTF-32 input transcoded to UTF-8
}

var encoderPool = sync.Pool{New: func() any { return new(encoder) }}

func appendCanon(dst, src []byte, m mode) ([]byte, error) {
	if int64(len(src)) >= 1<<32 {
		return dst, &SyntaxError{Offset: 0, msg: "input of 4 GiB or more"}
	}
	e := encoderPool.Get().(*encoder)
	e.src, e.pos, e.out, e.mode, e.depth = src, 0, dst, m, 0
	e.colon, e.comma = ":", ","
	if m&modePython != 0 && m&modeCompact == 0 {
		e.colon, e.comma = ": ", ", "
	}
	start := len(dst)
	var w pyWide
	if m&modePython != 0 {
		w = detectWide(src)
		if w.unit == 0 && len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
			e.pos = 3 // json.loads(bytes) decodes with utf-8-sig
		}
	}
	var err error
	if w.unit != 0 {
		err = e.wideDocument(w)
	} else {
		err = e.document()
	}
	out := e.out
	e.src, e.out = nil, nil
	e.members = e.members[:0]
	if cap(e.tmp) > 1<<20 {
		e.tmp = nil // do not pin big buffers in the pool
	}
	if cap(e.wide) > 1<<20 {
		e.wide = nil
	}
	encoderPool.Put(e)
	if err != nil {
		return out[:start], err
	}
	return out, nil
}

func (e *encoder) errorf(off int, format string, args ...any) error {
	return &SyntaxError{Offset: int64(off), msg: fmt.Sprintf(format, args...)}
}

// wideDocument converts a UTF-16 or UTF-32 document (Python mode only): it
// decodes it to UTF-8 as json.loads would and converts that, reporting
// errors at offsets in the original input.
func (e *encoder) wideDocument(w pyWide) error {
	src := e.src
	text, bad := w.transcode(e.wide[:0], src)
	e.wide = text
	if bad >= 0 {
		return e.errorf(bad, "invalid UTF-%d (json.loads detects UTF-%d from the NUL bytes or byte order mark)", 8*w.unit, 8*w.unit)
	}
	e.src = text
	err := e.document()
	if se, ok := err.(*SyntaxError); ok {
		se.Offset = int64(w.srcOffset(src, text, int(se.Offset)))
	}
	return err
}

// document converts the JSON text at e.src[e.pos:].
func (e *encoder) document() error {
	e.skipSpace()
	if err := e.value(); err != nil {
		return err
	}
	e.skipSpace()
	if e.pos < len(e.src) {
		return e.errorf(e.pos, "unexpected %s after top-level value", describe(e.src[e.pos]))
	}
	return nil
}

func (e *encoder) skipSpace() {
	for e.pos < len(e.src) {
		switch e.src[e.pos] {
		case ' ', '\t', '\n', '\r':
			e.pos++
		default:
			return
		}
	}
}

// describe names a byte for an error message.
func describe(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("character %q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func (e *encoder) value() error {
	if e.pos >= len(e.src) {
		return e.errorf(e.pos, "unexpected end of input, expecting a value")
	}
	switch c := e.src[e.pos]; c {
	case '{':
		return e.object()
	case '[':
		return e.array()
	case '"':
		return e.string()
	case 't':
		return e.literal("true", "true")
	case 'f':
		return e.literal("false", "false")
	case 'n':
		return e.literal("null", "null")
	case 'N':
		if e.mode&modePython != 0 {
			return e.literal("NaN", "NaN")
		}
	case 'I':
		if e.mode&modePython != 0 {
			return e.literal("Infinity", "Infinity")
		}
	case '-':
		if e.mode&modePython != 0 && e.pos+1 < len(e.src) && e.src[e.pos+1] == 'I' {
			return e.literal("-Infinity", "-Infinity")
		}
		return e.number()
	default:
		if c >= '0' && c <= '9' {
			return e.number()
		}
	}
	return e.errorf(e.pos, "unexpected %s, expecting a value", describe(e.src[e.pos]))
}

func (e *encoder) literal(word, out string) error {
	end := e.pos + len(word)
	if end > len(e.src) || string(e.src[e.pos:end]) != word {
		return e.errorf(e.pos, "invalid literal, expecting %q", word)
	}
	e.pos = end
	e.out = append(e.out, out...)
	return nil
}

func (e *encoder) enter() error {
	e.depth++
	if e.depth > MaxDepth {
		return e.errorf(e.pos, "nesting deeper than %d levels", MaxDepth)
	}
	return nil
}

func (e *encoder) array() error {
	if err := e.enter(); err != nil {
		return err
	}
	e.pos++ // '['
	e.out = append(e.out, '[')
	e.skipSpace()
	if e.pos < len(e.src) && e.src[e.pos] == ']' {
		e.pos++
		e.out = append(e.out, ']')
		e.depth--
		return nil
	}
	for {
		e.skipSpace()
		if err := e.value(); err != nil {
			return err
		}
		e.skipSpace()
		if e.pos >= len(e.src) {
			return e.errorf(e.pos, "unexpected end of input in array, expecting ',' or ']'")
		}
		switch e.src[e.pos] {
		case ',':
			e.pos++
			e.out = append(e.out, e.comma...)
		case ']':
			e.pos++
			e.out = append(e.out, ']')
			e.depth--
			return nil
		default:
			return e.errorf(e.pos, "unexpected %s in array, expecting ',' or ']'", describe(e.src[e.pos]))
		}
	}
}

func (e *encoder) object() error {
	if err := e.enter(); err != nil {
		return err
	}
	e.pos++ // '{'
	e.out = append(e.out, '{')
	body := len(e.out)
	e.skipSpace()
	if e.pos < len(e.src) && e.src[e.pos] == '}' {
		e.pos++
		e.out = append(e.out, '}')
		e.depth--
		return nil
	}
	base := len(e.members)
	for {
		e.skipSpace()
		if e.pos >= len(e.src) {
			return e.errorf(e.pos, "unexpected end of input in object, expecting a string key")
		}
		if e.src[e.pos] != '"' {
			return e.errorf(e.pos, "unexpected %s in object, expecting a string key", describe(e.src[e.pos]))
		}
		seg, src := len(e.out), e.pos
		if err := e.string(); err != nil {
			return err
		}
		keyEnd := len(e.out)
		e.skipSpace()
		if e.pos >= len(e.src) || e.src[e.pos] != ':' {
			if e.pos >= len(e.src) {
				return e.errorf(e.pos, "unexpected end of input in object, expecting ':'")
			}
			return e.errorf(e.pos, "unexpected %s in object, expecting ':'", describe(e.src[e.pos]))
		}
		e.pos++
		e.out = append(e.out, e.colon...)
		e.skipSpace()
		if err := e.value(); err != nil {
			return err
		}
		e.members = append(e.members, member{seg: seg, keyEnd: keyEnd, end: len(e.out), src: src})
		e.skipSpace()
		if e.pos >= len(e.src) {
			return e.errorf(e.pos, "unexpected end of input in object, expecting ',' or '}'")
		}
		switch e.src[e.pos] {
		case ',':
			e.pos++
			e.out = append(e.out, e.comma...)
		case '}':
			e.pos++
			e.fixMembers(body, e.members[base:])
			e.members = e.members[:base]
			e.out = append(e.out, '}')
			e.depth--
			return nil
		default:
			return e.errorf(e.pos, "unexpected %s in object, expecting ',' or '}'", describe(e.src[e.pos]))
		}
	}
}
