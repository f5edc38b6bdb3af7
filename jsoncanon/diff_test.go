package jsoncanon

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

var (
	diffSeed = flag.Uint64("diff.seed", 0, "TestDifferential: run only this seed (0: the fixed seeds)")
	diffDocs = flag.Int("diff.docs", 600, "TestDifferential: documents generated per seed")
)

// TestDifferential generates random documents that stress every rule jsoncanon
// reproduces, and a share of invalid ones, and compares jsoncanon with Node
// and CPython byte for byte, in JS mode and in the four Python variants.
//
// A failure names its seed; rerun it alone with
//
//	go test ./jsoncanon -run TestDifferential -diff.seed=N
func TestDifferential(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	if *diffSeed != 0 {
		seeds = []uint64{*diffSeed}
	}
	// Start the oracles (or skip) before the subtests fan out.
	nodeOracle.get(t)
	pythonOracle.get(t)
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			t.Logf("seed %d, %d documents", seed, *diffDocs)
			g := newDocGen(seed)
			docs := make([][]byte, *diffDocs)
			for i := range docs {
				docs[i] = g.document()
			}
			differential(t, docs)
		})
	}
}

// differential compares jsoncanon with both oracles on docs, reporting the
// first few mismatches in full.
func differential(t *testing.T, docs [][]byte) {
	t.Helper()
	js := oracleJS(t, docs...)
	py := oraclePython(t, docs...)
	failures, valid := 0, 0
	report := func(doc []byte, what, diff string) {
		failures++
		if failures <= 10 {
			t.Errorf("%s mismatch\n\tinput %q\n\t%s", what, doc, diff)
		}
	}
	buf := make([]byte, 0, 4096)
	for i, doc := range docs {
		var err error
		buf, err = AppendJS(buf[:0], doc)
		var want []byte
		if js[i].err == "" {
			want = js[i].outs[0]
			valid++
		}
		if d := checkAgainst(buf, err, want, js[i].err); d != "" {
			report(doc, "JS", d)
		}
		for v, pv := range pyVariants {
			buf, err = AppendPython(buf[:0], doc, &pv.opts)
			want = nil
			if py[i].err == "" {
				want = py[i].outs[v]
			}
			if d := checkAgainst(buf, err, want, py[i].err); d != "" {
				report(doc, "Python "+pv.name, d)
			}
		}
	}
	if failures > 10 {
		t.Errorf("%d mismatches in all, first 10 shown", failures)
	}
	t.Logf("%d documents, %d valid for JSON.parse", len(docs), valid)
}

// docGen generates JSON documents, valid and not, from a seeded source.
type docGen struct {
	r *rand.Rand
	b []byte
	// per document:
	rawSurrogates bool // strings may hold encoded surrogates (ED A0 80)
	badUTF8       bool // strings may hold invalid UTF-8
	spacey        bool // whitespace between tokens
	budget        int  // values left to write in this document
}

func newDocGen(seed uint64) *docGen {
	return &docGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *docGen) chance(p float64) bool { return g.r.Float64() < p }

func pick[T any](g *docGen, s []T) T { return s[g.r.IntN(len(s))] }

// document returns one new document. About one in six is deliberately
// broken in some way; the oracles decide what is valid.
func (g *docGen) document() []byte {
	g.b = nil
	g.rawSurrogates = g.chance(0.15)
	g.badUTF8 = g.chance(0.1)
	g.spacey = g.chance(0.3)
	g.budget = 1 + g.r.IntN(40)
	if g.chance(0.05) {
		g.budget = 100 + g.r.IntN(300)
	}
	g.ws()
	switch {
	case g.chance(0.15):
		g.scalar()
	case g.chance(0.05):
		g.deep(g.r.IntN(190) + 10)
	default:
		if g.chance(0.5) {
			g.object(0)
		} else {
			g.array(0)
		}
	}
	g.ws()
	doc := g.b
	if g.chance(0.16) {
		doc = g.corrupt(doc)
	}
	return doc
}

var spaces = []string{" ", "\t", "\n", "\r", "\r\n", "  ", "\n\t\t"}

func (g *docGen) ws() {
	if !g.spacey && !g.chance(0.05) {
		return
	}
	for n := g.r.IntN(3); n > 0; n-- {
		g.b = append(g.b, pick(g, spaces)...)
	}
}

func (g *docGen) value(depth int) {
	g.budget--
	if depth >= 6 || g.budget <= 0 {
		g.scalar()
		return
	}
	switch k := g.r.IntN(10); {
	case k < 3:
		g.object(depth + 1)
	case k < 5:
		g.array(depth + 1)
	default:
		g.scalar()
	}
}

func (g *docGen) scalar() {
	switch k := g.r.IntN(10); {
	case k < 4:
		g.str(g.randomString())
	case k < 9:
		g.b = append(g.b, g.number()...)
	default:
		g.b = append(g.b, pick(g, []string{"true", "false", "null"})...)
	}
}

// deep writes n nested arrays and objects around a value.
func (g *docGen) deep(n int) {
	closers := make([]byte, 0, n)
	for range n {
		if g.chance(0.5) {
			g.b = append(g.b, '[')
			closers = append(closers, ']')
		} else {
			g.b = append(g.b, `{"`...)
			g.b = append(g.b, pick(g, indexKeys)...)
			g.b = append(g.b, `":`...)
			closers = append(closers, '}')
		}
		g.ws()
	}
	g.value(5)
	for i := len(closers) - 1; i >= 0; i-- {
		g.ws()
		g.b = append(g.b, closers[i])
	}
}

func (g *docGen) array(depth int) {
	g.b = append(g.b, '[')
	n := g.r.IntN(6)
	if g.chance(0.05) {
		n = 20 + g.r.IntN(30)
	}
	n = min(n, max(g.budget, 0))
	for i := range n {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		g.ws()
		g.value(depth)
		g.ws()
	}
	if n == 0 {
		g.ws()
	}
	g.b = append(g.b, ']')
}

// indexKeys are keys at and around JavaScript's array-index rule.
var indexKeys = []string{
	"0", "1", "2", "3", "7", "9", "10", "11", "42", "99", "100", "255", "1000",
	"65535", "99999", "2147483647", "2147483648", "4294967294", "4294967295",
	"4294967296", "9007199254740993", "18446744073709551616",
	"01", "00", "-1", "-0", "1.0", "1e3", "+1", " 1", "1 ", "0x10", "\uff11",
	"", "a", "b", "z", "A", "__proto__", "constructor", "length", "toString",
}

func (g *docGen) object(depth int) {
	g.b = append(g.b, '{')
	n := g.r.IntN(7)
	if g.chance(0.1) {
		n = 9 + g.r.IntN(40) // past the small-object dedupe path
	}
	n = min(n, max(g.budget, 0))
	var keys [][]rune
	for i := range n {
		if i > 0 {
			g.b = append(g.b, ',')
		}
		g.ws()
		var key []rune
		switch {
		case len(keys) > 0 && g.chance(0.2):
			key = pick(g, keys) // a duplicate, probably spelled differently
		case g.chance(0.4):
			key = []rune(pick(g, indexKeys))
		case g.chance(0.3):
			key = []rune(strconv.FormatUint(uint64(g.r.Uint32()), 10))
		default:
			key = g.randomString()
		}
		keys = append(keys, key)
		g.str(key)
		g.ws()
		g.b = append(g.b, ':')
		g.ws()
		g.value(depth)
		g.ws()
	}
	if n == 0 {
		g.ws()
	}
	g.b = append(g.b, '}')
}

// String content is a sequence of code points; a code point of
// invalidBase+i stands for the raw bytes badBytes[i].
const invalidBase = 0x200000

var badBytes = []string{
	"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xc2", "\xe0\x80\x80", "\xe0\x9f\xbf",
	"\xe2\x82", "\xed\xbf\xbf", "\xf0\x80\x80\x80", "\xf0\x8f\xbf\xbf", "\xf0\x9f\x98",
	"\xf0\x9f", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80",
	"\xfe", "\xff", "\xc3\x28", "\xe2\x28\xa1",
}

var (
	asciiRunes   = []rune("abcxyzABCXYZ0189 _-.:,;!?#$%()[]{}'`~^=+*|")
	specialRunes = []rune("\"\\/<>&\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1b\x1f\x7f")
	bmpRunes     = []rune("\u0080\u009f\u00a0é߿ßÿĀ\u0800中€\u2028\u2029\ufeff\ufffd\uffff\ue000\u200b\u0301")
	astralRunes  = []rune{0x10000, 0x1f600, 0x1f4a9, 0x10ffff, 0x20000, 0xe0001}
	loneRunes    = []rune{0xd800, 0xdbff, 0xdc00, 0xdfff, 0xd83d, 0xde00}
)

func (g *docGen) randomString() []rune {
	n := g.r.IntN(8)
	if g.chance(0.05) {
		n = 20 + g.r.IntN(60)
	}
	s := make([]rune, 0, n)
	for range n {
		switch k := g.r.IntN(100); {
		case k < 45:
			s = append(s, pick(g, asciiRunes))
		case k < 60:
			s = append(s, pick(g, specialRunes))
		case k < 72:
			s = append(s, pick(g, bmpRunes))
		case k < 78:
			s = append(s, rune(0x80+g.r.IntN(0xd800-0x80)))
		case k < 85:
			s = append(s, pick(g, astralRunes))
		case k < 90:
			s = append(s, rune(0x10000+g.r.IntN(0x100000)))
		case k < 96:
			s = append(s, pick(g, loneRunes))
			if g.chance(0.3) { // maybe make a pair, maybe a reversed one
				s = append(s, pick(g, loneRunes))
			}
		default:
			if g.badUTF8 {
				s = append(s, invalidBase+rune(g.r.IntN(len(badBytes))))
			} else {
				s = append(s, 'q')
			}
		}
	}
	return s
}

// str writes s as a JSON string, choosing at random among the spellings of
// each code point.
func (g *docGen) str(s []rune) {
	g.b = append(g.b, '"')
	for _, r := range s {
		g.b = g.spell(g.b, r)
	}
	g.b = append(g.b, '"')
}

func (g *docGen) uEscape(b []byte, r rune) []byte {
	digits := "0123456789abcdef"
	if g.chance(0.3) {
		digits = "0123456789ABCDEF"
	} else if g.chance(0.1) {
		digits = "0123456789aBcDeF"
	}
	return append(b, '\\', 'u', digits[r>>12&0xf], digits[r>>8&0xf], digits[r>>4&0xf], digits[r&0xf])
}

func (g *docGen) spell(b []byte, r rune) []byte {
	switch {
	case r >= invalidBase:
		return append(b, badBytes[r-invalidBase]...)
	case r >= 0xd800 && r < 0xe000:
		if g.rawSurrogates && g.chance(0.5) {
			// What surrogatepass writes; U+FFFD three times for Node.
			return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
		}
		return g.uEscape(b, r)
	case r > 0xffff:
		if g.chance(0.4) {
			hi, lo := utf16.EncodeRune(r)
			return g.uEscape(g.uEscape(b, hi), lo)
		}
		return utf8.AppendRune(b, r)
	case g.chance(0.2):
		return g.uEscape(b, r)
	}
	short := map[rune]string{'"': `\"`, '\\': `\\`, '/': `\/`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}
	if e, ok := short[r]; ok && (r != '/' || g.chance(0.5)) {
		return append(b, e...)
	}
	if r < 0x20 {
		return g.uEscape(b, r)
	}
	return utf8.AppendRune(b, r)
}

// boundaryNumbers are number literals at the edges of the formatting and
// rounding rules of both languages.
var boundaryNumbers = []string{
	"0", "-0", "0.0", "-0.0", "0e0", "-0E-0", "0.000", "-0e+5", "1", "-1",
	"1e21", "1e+21", "1E21", "-1e21", "1e20", "999999999999999999999",
	"1000000000000000000000", "100000000000000000000", "123456789012345678901234",
	"1e-7", "1e-6", "0.000001", "0.0000001", "1.5e-7", "-1e-7", "0.00000123",
	"1e16", "1e15", "1e17", "1e-5", "1e-4", "0.0001", "0.00001", "1.5e-5",
	"9999999999999998", "9999999999999999", "10000000000000000", "1234567890123456",
	"999999999999999", "123456789012345", "-123456789012345", "1.0", "10.0", "100.5",
	"1e400", "-1e400", "1e-400", "-1e-400", "1E+400", "123e-99999", "1e99999999999999999999",
	"5e-324", "-5e-324", "4.9e-324", "2e-324", "2.4703282292062327e-324",
	"2.4703282292062328e-324", "2.2250738585072014e-308", "2.225073858507201e-308",
	"2.2250738585072011e-308", "1.7976931348623157e308", "1.7976931348623158e308",
	"1.7976931348623159e308", "-1.7976931348623157e+308",
	"9007199254740991", "9007199254740992", "9007199254740993", "-9007199254740993",
	"9007199254740994", "9007199254740995", "18014398509481985", "18446744073709551615",
	"18446744073709551616", "295147905179352825856", "1.00000000000000011102230246251565404236316680908203125",
	"1.00000000000000011102230246251565404236316680908203124",
	"1.00000000000000011102230246251565404236316680908203126",
	"9007199254740993.0000000000000000000001", "0.1", "0.2", "0.3", "1.1", "100",
	"1E+2", "1e-0", "1E-0", "123e-20", "0.5", "2.5e+3", "6.02214076e23", "1.602176634E-19",
	"3.141592653589793", "2.718281828459045", "0.30000000000000004", "1e22", "1e23",
	"123456789e-30", "1e308", "1e-323", "8.98846567431158e307",
}

func (g *docGen) digits(n int, first bool) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	if first && n > 0 && b[0] == '0' {
		b[0] = byte('1' + g.r.IntN(9))
	}
	return b
}

// number returns a random valid JSON number literal.
func (g *docGen) number() []byte {
	var b []byte
	neg := g.chance(0.3)
	if neg {
		b = append(b, '-')
	}
	switch k := g.r.IntN(100); {
	case k < 20:
		return []byte(pick(g, boundaryNumbers))
	case k < 40: // an integer of 1 to 40 digits
		n := 1 + g.r.IntN(40)
		if g.chance(0.5) {
			n = 1 + g.r.IntN(17)
		}
		if g.chance(0.02) {
			// Around a double's range (Infinity, null for JS) and, more
			// rarely, CPython's 4300-digit limit.
			n = 305 + g.r.IntN(10)
			if g.chance(0.2) {
				n = 4298 + g.r.IntN(5)
			}
		}
		if n == 1 && g.chance(0.3) {
			return append(b, '0')
		}
		return append(b, g.digits(n, true)...)
	case k < 50: // a fraction
		if g.chance(0.3) {
			b = append(b, '0')
		} else {
			b = append(b, g.digits(1+g.r.IntN(20), true)...)
		}
		b = append(b, '.')
		return append(b, g.digits(1+g.r.IntN(25), false)...)
	case k < 60: // an exponent
		b = append(b, g.digits(1+g.r.IntN(20), true)...)
		if g.chance(0.5) {
			b = append(b, '.')
			b = append(b, g.digits(1+g.r.IntN(20), false)...)
		}
		b = append(b, pick(g, []string{"e", "E"})...)
		b = append(b, pick(g, []string{"", "+", "-"})...)
		exp := g.r.IntN(400)
		if g.chance(0.5) {
			exp = g.r.IntN(30)
		}
		if g.chance(0.1) {
			b = append(b, '0', '0')
		}
		return strconv.AppendInt(b, int64(exp), 10)
	case k < 65: // a long mantissa, for correct rounding
		b = append(b, g.digits(1+g.r.IntN(3), true)...)
		b = append(b, '.')
		b = append(b, g.digits(20+g.r.IntN(100), false)...)
		if g.chance(0.1) {
			b = append(b, g.digits(g.r.IntN(800), false)...)
		}
		if g.chance(0.5) {
			b = append(b, 'e', '-')
			b = strconv.AppendInt(b, int64(g.r.IntN(330)), 10)
		}
		return b
	case k < 70: // a power of ten near a rule's boundary, scaled a little
		exp := pick(g, []int{-325, -324, -308, -307, -8, -7, -6, -5, -4, -3, 14, 15, 16, 17, 20, 21, 22, 308, 309})
		m := pick(g, []string{"1", "9.999999999999999", "9.9999999999999999", "1.0000000000000001", "5", "4.94065645841246544"})
		return fmt.Appendf(b, "%se%d", m, exp)
	default: // a random double, printed by strconv in various ways
		var f float64
		for {
			if g.chance(0.5) {
				f = math.Float64frombits(g.r.Uint64())
			} else {
				f = g.r.Float64() * math.Pow(10, float64(g.r.IntN(60)-30))
			}
			if !math.IsInf(f, 0) && !math.IsNaN(f) {
				break
			}
		}
		fmtc := pick(g, []byte{'g', 'e', 'f', 'g', 'e'})
		prec := g.r.IntN(22) - 1
		if fmtc == 'f' && math.Abs(f) > 1e30 || math.Abs(f) < 1e-30 && fmtc == 'f' {
			fmtc = 'e'
		}
		s := strconv.AppendFloat(nil, f, fmtc, prec, 64)
		if neg && s[0] != '-' {
			return append(b, s...)
		}
		return s
	}
}

// corrupt returns a broken variant of doc (which the oracles may still
// accept: Python takes NaN, a byte order mark, UTF-16).
func (g *docGen) corrupt(doc []byte) []byte {
	ins := func(at int, s string) []byte {
		out := append([]byte(nil), doc[:at]...)
		out = append(out, s...)
		return append(out, doc[at:]...)
	}
	at := 0
	if len(doc) > 0 {
		at = g.r.IntN(len(doc) + 1)
	}
	switch g.r.IntN(16) {
	case 0: // truncation
		return doc[:at]
	case 1: // a trailing comma
		if i := bytes.LastIndexAny(doc, "]}"); i > 0 {
			return ins(i, ",")
		}
		return append(doc, ',')
	case 2: // a random byte
		if len(doc) == 0 {
			return []byte{byte(g.r.IntN(256))}
		}
		out := bytes.Clone(doc)
		out[g.r.IntN(len(out))] = byte(g.r.IntN(256))
		return out
	case 3: // a bad number
		return []byte("[" + pick(g, []string{
			"01", "-01", "00", "-", "--1", "+1", ".5", "1.", "1.e5", "1e", "1e+", "1E-",
			"0x10", "1_000", "- 1", "1.5.5", "0.e1", "Infinity", "-Infinity", "NaN",
			"-NaN", "infinity", "nan", "Inf", "+Infinity", "1e5.5", "-0x", "١",
		}) + "]")
	case 4: // a bad escape
		return []byte(`{"k":"` + pick(g, []string{
			`\x41`, `\u12`, `\u12G4`, `\uZZZZ`, `\'`, `\U0041`, `\a`, `\0`, `\`, `\u`,
			`\ud800\u`, `\ud800\uzzzz`, `\ud800\`, `\ud800\x`, "\\\n", "\\\x00", `\u 123`,
			`\u+123`, `\u-123`,
		}) + `"}`)
	case 5: // NaN and the infinities
		return ins(0, "["+pick(g, []string{"NaN", "Infinity", "-Infinity"})+",")
	case 6: // byte order marks
		return append([]byte(pick(g, []string{"\xef\xbb\xbf", "\xef\xbb\xbf\xef\xbb\xbf", "\xfe\xff", "\xff\xfe", " \xef\xbb\xbf"})), doc...)
	case 7: // another encoding, which json.loads detects
		return encodeUTF(g, doc)
	case 8: // a raw control character in a string
		return []byte("[\"a" + string(rune(g.r.IntN(0x20))) + "b\"]")
	case 9: // trailing garbage or a second value
		return append(doc, pick(g, []string{"x", " 1", "[]", ",", "\x00", "\x00\x00", "}", "]", "//", "\ufeff"})...)
	case 10: // leading garbage, NUL bytes (UTF-16 and UTF-32 detection)
		return append([]byte(pick(g, []string{"\x00", "\x00\x00\x00", ",", "]"})), doc...)
	case 11: // unquoted or single-quoted keys, comments
		return []byte(pick(g, []string{`{a:1}`, `{'a':1}`, `['a']`, `[1/*x*/]`, `{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a" 1}`, `{"a":}`, `{"a"}`, `{1:1}`, `[1 2]`, `{"a":1 "b":2}`}))
	case 12: // unterminated strings and containers
		return []byte(pick(g, []string{`"abc`, `["abc`, `{"a`, `{"a":"b`, `[`, `{`, `[[[]]`, `{"a":{}`, `"\"`, `"\\\"`}))
	case 13: // empty or only whitespace
		return []byte(pick(g, []string{"", " ", "\n\t", "\r\n"}))
	case 14: // literals, mangled
		return []byte(pick(g, []string{"tru", "True", "nul", "NULL", "falsey", "[true false]", "nulll", "t", "f", "n"}))
	default: // whitespace that is not JSON whitespace
		return ins(at, pick(g, []string{"\v", "\f", "\u00a0", "\u2028", "\u3000", "\ufeff", "\x85"}))
	}
}

// encodeUTF writes doc, read as UTF-8, in UTF-16 or UTF-32, with or without
// a byte order mark, as json.loads(bytes) detects them.
func encodeUTF(g *docGen, doc []byte) []byte {
	var units []uint32
	for s := string(doc); s != ""; {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError && n <= 1 && len(s) >= 3 && s[0] == 0xed {
			r, n = rune(s[0]&0x0f)<<12|rune(s[1]&0x3f)<<6|rune(s[2]&0x3f), 3
		}
		s = s[n:]
		units = append(units, uint32(r))
	}
	if g.chance(0.1) && len(units) > 0 {
		units = append(units, 0x110000+uint32(g.r.IntN(100))) // out of range
	}
	wide := g.chance(0.3)
	var order binary.AppendByteOrder = binary.LittleEndian
	if g.chance(0.5) {
		order = binary.BigEndian
	}
	var b []byte
	bom := g.chance(0.5)
	if wide {
		if bom {
			b = order.AppendUint32(b, 0xfeff)
		}
		for _, u := range units {
			b = order.AppendUint32(b, u)
		}
	} else {
		if bom {
			b = order.AppendUint16(b, 0xfeff)
		}
		for _, u := range units {
			if u > 0xffff && u <= 0x10ffff {
				hi, lo := utf16.EncodeRune(rune(u))
				b = order.AppendUint16(b, uint16(hi))
				b = order.AppendUint16(b, uint16(lo))
			} else {
				b = order.AppendUint16(b, uint16(u))
			}
		}
	}
	if g.chance(0.1) && len(b) > 0 {
		b = b[:len(b)-1] // truncated
	}
	return b
}

// TestDocGen checks that the generator covers what it is meant to cover, so
// that a change to it cannot silently stop testing a rule.
func TestDocGen(t *testing.T) {
	g := newDocGen(1)
	var all bytes.Buffer
	for range 4000 {
		all.Write(g.document())
		all.WriteByte('\n')
	}
	s := all.String()
	for _, want := range []string{
		`"4294967294"`, `"4294967295"`, `"01"`, `"-1"`, `"1.0"`, `\u00`, `\u00E`, `\/`, `\b`, `\f`,
		"\u2028", "\u2029", "\x7f", "\xed\xa0", "\xf0\x9f", `\ud83d\ude00`, `\uD8`, "1e21",
		"1e-7", "1e16", "1e-5", "1e400", "-1e400", "1e-400", "5e-324", "9007199254740993",
		"E+", "e-", "NaN", "Infinity", "\xef\xbb\xbf", "\xff", "\xc0\x80", "\x00",
		"\r\n", "\t", ",]", `{"k":"\`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("generator never wrote %q", want)
		}
	}
}
