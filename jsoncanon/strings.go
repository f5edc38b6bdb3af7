package jsoncanon

import "unicode/utf8"

// Byte classes for the string scanner.
const (
	plain   = iota // copied as is in every mode
	quote          // ends the string
	escape         // starts an escape sequence
	control        // U+0000 to U+001F: not allowed raw in a JSON string
	special        // DEL or a non-ASCII byte: every mode looks closer
)

var class = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = control
	}
	t['"'] = quote
	t['\\'] = escape
	for c := 0x7f; c < 0x100; c++ {
		t[c] = special
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// string reads the JSON string at e.pos and writes it as the target
// serializer would.
func (e *encoder) string() error {
	src := e.src
	start := e.pos + 1
	i := start
	var seen uint8 // bit set of the classes met
	for {
		for i < len(src) && class[src[i]] == plain {
			i++
		}
		if i >= len(src) {
			return e.errorf(e.pos, "unterminated string")
		}
		c := class[src[i]]
		if c == quote {
			break
		}
		if c == control {
			return e.errorf(i, "invalid control character %s in string", describe(src[i]))
		}
		seen |= 1 << c
		if c == escape {
			i++ // skip the escaped byte so that \" does not end the string
		}
		i++
	}
	raw := src[start:i]
	e.pos = i + 1
	if seen == 0 || (seen == 1<<special && e.rawOK(raw)) {
		e.out = append(e.out, '"')
		e.out = append(e.out, raw...)
		e.out = append(e.out, '"')
		return nil
	}
	return e.slowString(start, i)
}

// rawOK reports whether raw, a string body without escapes, is written
// unchanged by the target serializer.
func (e *encoder) rawOK(raw []byte) bool {
	if e.mode&modePython != 0 && e.mode&modeKeepNonASCII == 0 {
		return false // ensure_ascii escapes DEL and all non-ASCII
	}
	return utf8.Valid(raw)
}

// slowString decodes the string body src[start:end] to code points and
// writes each one.
func (e *encoder) slowString(start, end int) error {
	src := e.src
	js := e.mode&modePython == 0
	e.out = append(e.out, '"')
	for i := start; i < end; {
		c := src[i]
		switch {
		case c == '\\':
			r, n, err := e.unescape(i, end)
			if err != nil {
				return err
			}
			e.writeRune(r)
			i += n
		case c < utf8.RuneSelf:
			e.writeRune(rune(c))
			i++
		case js:
			r, n := decodeWHATWG(src[i:end])
			e.writeRune(r)
			i += n
		default:
			r, n := decodeSurrogatePass(src[i:end])
			if r < 0 {
				return e.errorf(i, "invalid UTF-8 byte 0x%02x in string", c)
			}
			e.writeRune(r)
			i += n
		}
	}
	e.out = append(e.out, '"')
	return nil
}

// unescape decodes the escape sequence at src[i] (a backslash) and returns
// the code point and the bytes consumed. A \uXXXX high surrogate directly
// followed by a \uXXXX low surrogate decodes to one astral code point, as
// both JSON.parse (two UTF-16 units) and json.loads do; any other surrogate
// stays a lone surrogate code point.
func (e *encoder) unescape(i, end int) (rune, int, error) {
	src := e.src
	if i+1 >= end {
		return 0, 0, e.errorf(i, "invalid escape at end of string")
	}
	switch src[i+1] {
	case '"':
		return '"', 2, nil
	case '\\':
		return '\\', 2, nil
	case '/':
		return '/', 2, nil
	case 'b':
		return '\b', 2, nil
	case 'f':
		return '\f', 2, nil
	case 'n':
		return '\n', 2, nil
	case 'r':
		return '\r', 2, nil
	case 't':
		return '\t', 2, nil
	case 'u':
		r, ok := hex4(src, i+2, end)
		if !ok {
			return 0, 0, e.errorf(i, "invalid \\u escape in string")
		}
		if r >= 0xD800 && r < 0xDC00 && i+7 < end && src[i+6] == '\\' && src[i+7] == 'u' {
			if lo, ok := hex4(src, i+8, end); ok && lo >= 0xDC00 && lo < 0xE000 {
				return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12, nil
			}
		}
		return r, 6, nil
	}
	return 0, 0, e.errorf(i, "invalid escape %s in string", describe(src[i+1]))
}

func hex4(src []byte, i, end int) (rune, bool) {
	if i+4 > end {
		return 0, false
	}
	var r rune
	for _, c := range src[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// writeRune writes one code point of a string as the target serializer
// would. r may be a lone surrogate.
func (e *encoder) writeRune(r rune) {
	switch r {
	case '"':
		e.out = append(e.out, '\\', '"')
		return
	case '\\':
		e.out = append(e.out, '\\', '\\')
		return
	case '\b':
		e.out = append(e.out, '\\', 'b')
		return
	case '\f':
		e.out = append(e.out, '\\', 'f')
		return
	case '\n':
		e.out = append(e.out, '\\', 'n')
		return
	case '\r':
		e.out = append(e.out, '\\', 'r')
		return
	case '\t':
		e.out = append(e.out, '\\', 't')
		return
	}
	switch {
	case r < 0x20:
		e.writeU(r)
	case r < 0x7f:
		e.out = append(e.out, byte(r))
	case e.mode&modePython != 0 && e.mode&modeKeepNonASCII == 0:
		// ensure_ascii: everything from DEL up as \uXXXX, astral as a pair.
		if r > 0xFFFF {
			r -= 0x10000
			e.writeU(0xD800 + r>>10)
			e.writeU(0xDC00 + r&0x3FF)
		} else {
			e.writeU(r)
		}
	case r >= 0xD800 && r < 0xE000:
		if e.mode&modePython == 0 {
			e.writeU(r) // JSON.stringify escapes lone surrogates
		} else {
			// ensure_ascii=False leaves the surrogate in the str; we encode
			// it as "surrogatepass" does.
			e.out = append(e.out, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
		}
	default:
		e.out = utf8.AppendRune(e.out, r)
	}
}

func (e *encoder) writeU(r rune) {
	e.out = append(e.out, '\\', 'u', hexDigits[r>>12&0xF], hexDigits[r>>8&0xF], hexDigits[r>>4&0xF], hexDigits[r&0xF])
}

// decodeWHATWG decodes the first UTF-8 sequence of b as the WHATWG Encoding
// Standard's decoder does, which is what Node.js uses to turn request bytes
// into a string: an invalid sequence decodes to U+FFFD and consumes its
// maximal valid prefix (at least one byte).
func decodeWHATWG(b []byte) (rune, int) {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	var r rune
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need, r = 1, rune(c&0x1F)
	case c >= 0xE0 && c <= 0xEF:
		need, r = 2, rune(c&0x0F)
		if c == 0xE0 {
			lo = 0xA0
		} else if c == 0xED {
			hi = 0x9F
		}
	case c >= 0xF0 && c <= 0xF4:
		need, r = 3, rune(c&0x07)
		if c == 0xF0 {
			lo = 0x90
		} else if c == 0xF4 {
			hi = 0x8F
		}
	default:
		return utf8.RuneError, 1
	}
	for k := 1; k <= need; k++ {
		if k >= len(b) || b[k] < lo || b[k] > hi {
			return utf8.RuneError, k
		}
		r = r<<6 | rune(b[k]&0x3F)
		lo, hi = 0x80, 0xBF
	}
	return r, need + 1
}

// decodeSurrogatePass decodes the first UTF-8 sequence of b as Python's
// "surrogatepass" error handler does: strict UTF-8 that also accepts encoded
// surrogates (ED A0 80 to ED BF BF). It returns -1 for invalid input.
func decodeSurrogatePass(b []byte) (rune, int) {
	if len(b) >= 3 && b[0] == 0xED && b[1] >= 0xA0 && b[1] <= 0xBF && b[2] >= 0x80 && b[2] <= 0xBF {
		return 0xD000 | rune(b[1]&0x3F)<<6 | rune(b[2]&0x3F), 3
	}
	r, n := utf8.DecodeRune(b)
	if r == utf8.RuneError && n <= 1 {
		return -1, 1
	}
	return r, n
}
