package jsoncanon

import (
	"encoding/binary"
	"unicode/utf8"
)

// json.loads(bytes) does not assume UTF-8: json.detect_encoding picks
// UTF-32 or UTF-16 from a byte order mark, or from where NUL bytes are in
// the first four bytes (a JSON text starts with ASCII), and the text is
// decoded with "surrogatepass". A document such as "1\x00" (UTF-16LE) is
// therefore valid for Python. Such input can never be valid UTF-8 JSON, so
// recognizing it changes nothing for UTF-8 documents.

// pyWide describes a UTF-16 or UTF-32 input as json.detect_encoding sees it.
type pyWide struct {
	unit int  // 2 or 4 bytes per code unit; 0 for UTF-8
	big  bool // big-endian
	skip int  // length of the byte order mark
}

// detectWide returns how json.loads(src) decodes src when that is not UTF-8.
func detectWide(src []byte) pyWide {
	has := func(p string) bool { return len(src) >= len(p) && string(src[:len(p)]) == p }
	switch {
	case has("\x00\x00\xfe\xff"):
		return pyWide{unit: 4, big: true, skip: 4}
	case has("\xff\xfe\x00\x00"):
		return pyWide{unit: 4, skip: 4}
	case has("\xfe\xff"):
		return pyWide{unit: 2, big: true, skip: 2}
	case has("\xff\xfe"):
		return pyWide{unit: 2, skip: 2}
	case has("\xef\xbb\xbf"):
		return pyWide{}
	}
	switch {
	case len(src) >= 4 && src[0] == 0 && src[1] != 0:
		return pyWide{unit: 2, big: true}
	case len(src) >= 4 && src[0] == 0:
		return pyWide{unit: 4, big: true}
	case len(src) >= 4 && src[1] == 0 && (src[2] != 0 || src[3] != 0):
		return pyWide{unit: 2}
	case len(src) >= 4 && src[1] == 0:
		return pyWide{unit: 4}
	case len(src) == 2 && src[0] == 0:
		return pyWide{unit: 2, big: true}
	case len(src) == 2 && src[1] == 0:
		return pyWide{unit: 2}
	}
	return pyWide{}
}

func (w pyWide) load(b []byte) uint32 {
	switch {
	case w.unit == 2 && w.big:
		return uint32(binary.BigEndian.Uint16(b))
	case w.unit == 2:
		return uint32(binary.LittleEndian.Uint16(b))
	case w.big:
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// next decodes the code point at src[i] as Python's codec does with
// "surrogatepass": a UTF-16 surrogate pair is one code point, any other
// surrogate stands alone. It returns n = 0 for input the codec refuses: a
// truncated code unit or a code point beyond U+10FFFF.
func (w pyWide) next(src []byte, i int) (r rune, n int) {
	if len(src)-i < w.unit {
		return 0, 0
	}
	u := w.load(src[i:])
	if u > utf8.MaxRune {
		return 0, 0
	}
	if w.unit == 2 && u >= 0xD800 && u < 0xDC00 && len(src)-i >= 4 {
		if lo := w.load(src[i+2:]); lo >= 0xDC00 && lo < 0xE000 {
			return 0x10000 + rune(u-0xD800)<<10 + rune(lo-0xDC00), 4
		}
	}
	return rune(u), w.unit
}

// transcode appends src, decoded as w says, to dst in UTF-8, with lone
// surrogates in their three-byte form (what "surrogatepass" encodes and
// decodeSurrogatePass reads back). It returns the offset in src of the first
// undecodable byte, or -1.
func (w pyWide) transcode(dst, src []byte) ([]byte, int) {
	for i := w.skip; i < len(src); {
		r, n := w.next(src, i)
		if n == 0 {
			return dst, i
		}
		if r >= 0xD800 && r < 0xE000 {
			dst = append(dst, 0xE0|byte(r>>12), 0x80|byte(r>>6)&0x3F, 0x80|byte(r)&0x3F)
		} else {
			dst = utf8.AppendRune(dst, r)
		}
		i += n
	}
	return dst, -1
}

// srcOffset maps off, a byte offset in the transcoded text text, back to
// the offset of the same code point in src.
func (w pyWide) srcOffset(src, text []byte, off int) int {
	cps := 0 // code points before off
	for _, c := range text[:min(off, len(text))] {
		if c < 0x80 || c >= 0xC0 {
			cps++
		}
	}
	i := w.skip
	for ; cps > 0 && i < len(src); cps-- {
		_, n := w.next(src, i)
		if n == 0 {
			break
		}
		i += n
	}
	return i
}
