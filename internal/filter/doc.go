// Package filter parses and evaluates payload filters: JSON documents that
// say which event payloads an endpoint receives, besides its event types.
//
// Compile a filter once with [Parse] and evaluate it on each payload with
// [Filter.Match], or decode the payload once with [Decode] and evaluate many
// filters on it with [Filter.MatchValue], as fan-out does:
//
//	f, err := filter.Parse([]byte(`{"data": {"amount": {"$gte": 100}}}`))
//	if err != nil { ... } // a *filter.Error naming the JSON path of the fault
//	ok, err := f.Match(payload) // err only when payload is not JSON
//
// # Syntax
//
// The syntax is modelled on Hookdeck Outpost's destination filters. A filter
// is a JSON object; each member is a condition and all must hold (an empty
// object matches every payload).
//
//   - "field": literal — the field equals the literal (a string, number,
//     boolean, null or array).
//   - "field": {"$op": operand, ...} — every operator holds for the field:
//     $eq and $neq (any JSON value, compared deeply), $gt, $gte, $lt and
//     $lte (a number or a string), $in and $nin (an array of values),
//     $exists (a boolean), $startsWith and $endsWith (a string), and $not
//     (an operator object, or a literal for "not equal").
//   - "field": {"sub": ...} — a nested filter, evaluated on the field's
//     value. "a.b": 1 is the same as "a": {"b": 1}: a key holds a dotted
//     path, so a field whose own name has a dot cannot be named.
//   - "$and": [filter, ...], "$or": [filter, ...] and "$not": filter combine
//     filters, at the top or inside a nested filter.
//
// A field's operator object holds either operators or nested fields, not
// both.
//
// # Semantics
//
// Numbers are compared exactly as decimals, whatever their size or
// spelling: 12345678901234567890 and 12345678901234567891 differ, 0.1 equals
// 0.10 and 1e2 equals 100. Nothing goes through float64. A number whose
// exponent is beyond ±[MaxExponent] is refused in a filter, and in a payload
// it satisfies no comparison and no equality but that of the same text.
// Strings compare byte by byte (by Unicode code point), after JSON escapes
// are decoded, so RFC 3339 times in UTC order as times. A comparison of
// values of different kinds (a number with a string) does not hold.
//
// A condition on a field whose value is an array holds if it holds for any
// element of the array ("tags": "urgent" matches {"tags": ["urgent", "x"]}),
// and equality also holds for the whole array. $neq, $nin and $not negate
// that: none of the elements matches. A nested filter (or a dotted path) on
// an array of objects holds if it holds for any one of the objects, and a
// payload whose top level is an array matches a filter if one of its
// elements does.
//
// A field that is absent satisfies only negations ($neq, $nin, $not) and
// "$exists": false; null is a value, present, equal to null.
//
// # Where this differs from Outpost
//
//   - The filter applies to the payload itself: there is no envelope of
//     id, topic, time, metadata and data (event types are the endpoint's
//     event_types).
//   - Existence is $exists, as in MongoDB; Outpost's $exist is accepted as
//     its synonym.
//   - $in takes an array only; Outpost's substring match of a string operand
//     is not offered (use $startsWith or $endsWith).
//   - Keys with dots are paths.
//   - Numbers are exact decimals rather than floating point.
//
// # Bounds
//
// A filter is at most [MaxSize] bytes, nests at most [MaxDepth] levels and
// holds at most [MaxNodes] conditions. An invalid filter is an [*Error]
// whose Path names the fault, as in "$.data.amount.$gt".
package filter
