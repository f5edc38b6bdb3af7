package jsoncanon

import (
	"math"
	"strconv"
	"unsafe"
)

// maxIntDigits is CPython's default sys.get_int_max_str_digits(): int()
// refuses longer decimal strings, so json.loads raises ValueError on them.
const maxIntDigits = 4300

// number reads the JSON number at e.pos and writes it as the target
// serializer would.
func (e *encoder) number() error {
	src := e.src
	start := e.pos
	i := start
	if src[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i < len(src) && src[i] == '0':
		i++
	case i < len(src) && src[i] >= '1' && src[i] <= '9':
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
	default:
		return e.errorf(i, "invalid number: expecting a digit")
	}
	intEnd := i
	isInt := true
	if i < len(src) && src[i] == '.' {
		isInt = false
		i++
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return e.errorf(i, "invalid number: expecting a digit after the decimal point")
		}
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		isInt = false
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		d := i
		for i < len(src) && src[i] >= '0' && src[i] <= '9' {
			i++
		}
		if i == d {
			return e.errorf(i, "invalid number: expecting a digit in the exponent")
		}
	}
	e.pos = i
	lit := src[start:i]
	negZero := intEnd-start == 2 && src[start] == '-' && src[digits] == '0'

	if e.mode&modePython != 0 {
		if isInt {
			if n := intEnd - digits; n > maxIntDigits {
				return e.errorf(start, "integer of %d digits: CPython refuses more than %d (sys.get_int_max_str_digits)", n, maxIntDigits)
			}
			if negZero {
				e.out = append(e.out, '0')
			} else {
				e.out = append(e.out, lit...)
			}
			return nil
		}
		f := parseFloat(lit)
		e.out = appendPythonFloat(e.out, f)
		return nil
	}

	// JavaScript: integers of up to 15 digits are exact doubles and print as
	// written, but for -0.
	if isInt && intEnd-digits <= 15 {
		if negZero {
			e.out = append(e.out, '0')
		} else {
			e.out = append(e.out, lit...)
		}
		return nil
	}
	e.out = appendJSNumber(e.out, parseFloat(lit))
	return nil
}

// parseFloat converts a syntactically valid JSON number to the nearest
// double, as JSON.parse and Python's float() do: correctly rounded, ±Inf on
// overflow, zero on underflow.
func parseFloat(lit []byte) float64 {
	// The string does not outlive the call: on success strconv keeps
	// nothing, and the error, which would keep it, is dropped.
	f, _ := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
	return f
}

// shortest returns the shortest decimal digits that round-trip to f
// (which must be finite and non-zero, sign ignored) and the position of the
// decimal point: |f| = 0.digits × 10^point.
func shortest(buf []byte, f float64) (digits []byte, point int) {
	b := strconv.AppendFloat(buf[:0], math.Abs(f), 'e', -1, 64)
	// b is d[.ddd]e±XX
	var exp int
	for k := len(b) - 1; k >= 0; k-- {
		if b[k] == 'e' {
			x := 0
			for _, c := range b[k+2:] {
				x = x*10 + int(c-'0')
			}
			if b[k+1] == '-' {
				x = -x
			}
			exp = x
			b = b[:k]
			break
		}
	}
	if len(b) > 1 {
		b = append(b[:1], b[2:]...) // drop the '.'
	}
	return b, exp + 1
}

// appendJSNumber appends f as ECMAScript's Number::toString and
// JSON.stringify write it.
func appendJSNumber(out []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(out, "null"...)
	}
	if f == 0 {
		return append(out, '0') // also -0
	}
	if f < 0 {
		out = append(out, '-')
	}
	var buf [32]byte
	d, n := shortest(buf[:], f)
	k := len(d)
	switch {
	case k <= n && n <= 21:
		out = append(out, d...)
		for range n - k {
			out = append(out, '0')
		}
	case 0 < n && n <= 21:
		out = append(out, d[:n]...)
		out = append(out, '.')
		out = append(out, d[n:]...)
	case -6 < n && n <= 0:
		out = append(out, '0', '.')
		for range -n {
			out = append(out, '0')
		}
		out = append(out, d...)
	default:
		out = append(out, d[0])
		if k > 1 {
			out = append(out, '.')
			out = append(out, d[1:]...)
		}
		out = append(out, 'e')
		if n-1 >= 0 {
			out = append(out, '+')
		}
		out = strconv.AppendInt(out, int64(n-1), 10)
	}
	return out
}

// appendPythonFloat appends f as CPython's float.__repr__ and json.dumps
// write it.
func appendPythonFloat(out []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(out, "NaN"...)
	case math.IsInf(f, 1):
		return append(out, "Infinity"...)
	case math.IsInf(f, -1):
		return append(out, "-Infinity"...)
	}
	if math.Signbit(f) {
		out = append(out, '-')
	}
	if f == 0 {
		return append(out, '0', '.', '0')
	}
	var buf [32]byte
	d, n := shortest(buf[:], f)
	k := len(d)
	if -4 < n && n <= 16 {
		switch {
		case n <= 0:
			out = append(out, '0', '.')
			for range -n {
				out = append(out, '0')
			}
			out = append(out, d...)
		case n >= k:
			out = append(out, d...)
			for range n - k {
				out = append(out, '0')
			}
			out = append(out, '.', '0')
		default:
			out = append(out, d[:n]...)
			out = append(out, '.')
			out = append(out, d[n:]...)
		}
		return out
	}
	out = append(out, d[0])
	if k > 1 {
		out = append(out, '.')
		out = append(out, d[1:]...)
	}
	x := n - 1
	out = append(out, 'e')
	if x < 0 {
		out = append(out, '-')
		x = -x
	} else {
		out = append(out, '+')
	}
	if x < 10 {
		out = append(out, '0')
	}
	return strconv.AppendInt(out, int64(x), 10)
}
