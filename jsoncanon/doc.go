// Package jsoncanon reproduces, byte for byte, the JSON text that JavaScript's
// JSON.stringify and CPython's json.dumps write for a parsed JSON document.
//
// Webhook senders such as PlexTrac (HMAC over JSON.stringify(payload)) and
// Teak (HMAC over Python's json.dumps(payload)) sign a re-serialization of the
// payload rather than the bytes on the wire. A receiver in Go can only verify
// such a signature if it rebuilds exactly those bytes, and encoding/json
// cannot: it sorts map keys, escapes <, > and & and U+2028, formats numbers its
// own way and loses integer precision. This package parses the JSON text once,
// keeping everything the target language would have seen, and writes what
// that language's serializer would write:
//
//   - [JS] returns JSON.stringify(JSON.parse(text)) as Node.js produces it.
//   - [Python] returns json.dumps(json.loads(text)) as CPython 3 produces it,
//     with [PythonOptions] for separators=(',', ':') and ensure_ascii=False.
//
// Both parse the text once and write straight into the output; nothing is
// decoded into Go maps or interfaces, so the work is a single pass over the
// input and an allocation or two for the result.
//
// # Rules reproduced
//
// Object members: a key that appears twice keeps the position of its first
// appearance and the value of its last, as both JavaScript objects and Python
// dicts do. JavaScript then puts "array index" keys (the canonical decimal
// form of an integer from 0 to 2³²−2, such as "2" or "10") first, in
// ascending numeric order, followed by the other keys in insertion order.
// Python keeps insertion order.
//
// Numbers, JavaScript: every number is an IEEE 754 double, written with the
// shortest digits that round-trip (ECMAScript Number::toString): 1.0 is 1,
// 1e21 is 1e+21, 0.0000001 is 1e-7, -0 is 0, integers beyond 2⁵³ lose their
// low digits, and a literal too large for a double (1e400) becomes Infinity,
// which JSON.stringify writes as null.
//
// Numbers, Python: a literal without fraction or exponent is an int of any
// size and is written exactly (-0 is 0); CPython refuses integer literals of
// more than 4300 digits (sys.get_int_max_str_digits), and so does this
// package. Other literals are floats written by repr: 1.0, 1e+16, 1e-05,
// -0.0, and Infinity for overflow. The non-standard literals NaN, Infinity
// and -Infinity, which json.loads accepts, are kept.
//
// Strings: both escape the quote, the backslash and the control characters
// U+0000 to U+001F (\b \t \n \f \r, others as \u00XX with lowercase hex).
// JavaScript writes everything else as is: DEL, U+2028, U+2029, <, > and &,
// non-ASCII and astral characters as UTF-8, and a lone surrogate (which only
// an escape such as \ud800 can produce) as a \uXXXX escape. Python with
// ensure_ascii (the default) escapes DEL and every non-ASCII character as
// \uXXXX, astral characters as a surrogate pair; with ensure_ascii off it
// writes them as UTF-8, and a lone surrogate as its three-byte WTF-8 form
// (what .encode("utf-8", "surrogatepass") gives).
//
// Input bytes: JSON.parse sees text that Node decoded from the request bytes,
// so in JS mode invalid UTF-8 becomes U+FFFD by the WHATWG decoder's rules and
// a byte order mark is a syntax error. json.loads(bytes) decodes with
// "surrogatepass", so in Python mode invalid UTF-8 is an error, encoded
// surrogates are accepted, and a leading UTF-8 byte order mark is skipped.
// json.loads also detects UTF-16 and UTF-32 input, from a byte order mark or
// from NUL bytes among the first four, and so does Python mode; error
// offsets then count bytes of that input.
//
// # Limits
//
// Nesting deeper than [MaxDepth] is refused with a [*SyntaxError]. CPython's
// own parser gives up earlier, near its recursion limit of 1000; this package
// writes what CPython would write with that limit raised. The input must be
// smaller than 4 GiB.
package jsoncanon
