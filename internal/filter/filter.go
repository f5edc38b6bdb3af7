package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
)

// Bounds of a filter.
const (
	// MaxSize is the longest filter text, in bytes.
	MaxSize = 16 << 10
	// MaxDepth is how deeply a filter's JSON may nest.
	MaxDepth = 32
	// MaxNodes is how many conditions (operators, literals and fields) a
	// filter may hold.
	MaxNodes = 1000
	// MaxExponent bounds the decimal exponent of a number, so that a
	// literal such as 1e1000000000 cannot make a comparison allocate
	// gigabytes.
	MaxExponent = 1000
)

// ErrNotJSON is returned, wrapped, by Match and Decode for a payload that is
// not one JSON value.
var ErrNotJSON = errors.New("payload is not JSON")

// Error is a fault in a filter. Path is where, in JSONPath notation ("$"
// for the whole filter, "$.data.amount.$gt", "$.$or[1]").
type Error struct {
	Path   string
	Reason string
}

func (e *Error) Error() string { return e.Path + ": " + e.Reason }

// Filter is a compiled filter. It is immutable and safe for concurrent use.
type Filter struct {
	root  *objNode
	nodes int
}

// Parse compiles the filter text. Errors: *Error, with the path of the
// first fault in document order.
func Parse(text []byte) (*Filter, error) {
	if len(text) > MaxSize {
		return nil, &Error{Path: "$", Reason: fmt.Sprintf("is longer than %d bytes", MaxSize)}
	}
	v, err := decodeOrdered(text)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*object)
	if !ok {
		return nil, &Error{Path: "$", Reason: "must be a JSON object"}
	}
	c := &compiler{}
	root, err := c.object("$", o)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, nodes: c.nodes}, nil
}

// Match reports whether payload, a JSON text, matches f. Errors: ErrNotJSON
// (wrapped) when payload is not one JSON value.
func (f *Filter) Match(payload []byte) (bool, error) {
	v, err := Decode(payload)
	if err != nil {
		return false, err
	}
	return f.MatchValue(v), nil
}

// MatchValue reports whether v, a payload as Decode returns it, matches f.
// Decode a payload once to evaluate many filters on it.
func (f *Filter) MatchValue(v any) bool { return f.root.match(v, true) }

// Value is a decoded payload: nil, bool, string, json.Number, []any or
// map[string]any, as encoding/json decodes with UseNumber.
type Value = any

// Decode decodes payload for MatchValue, keeping numbers as their exact
// text. Errors: ErrNotJSON (wrapped).
func Decode(payload []byte) (Value, error) {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotJSON, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the first value", ErrNotJSON)
	}
	return v, nil
}

// object is a JSON object of a filter, its members in document order.
type object struct {
	keys []string
	vals []any
}

// decodeOrdered decodes a filter's text, keeping members in order and
// refusing duplicate keys and nesting beyond MaxDepth.
func decodeOrdered(text []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(text))
	d.UseNumber()
	v, err := readValue(d, "$", 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, &Error{Path: "$", Reason: "has data after the filter object"}
	}
	return v, nil
}

func readValue(d *json.Decoder, path string, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, &Error{Path: path, Reason: fmt.Sprintf("nests deeper than %d levels", MaxDepth)}
	}
	t, err := d.Token()
	if err != nil {
		return nil, &Error{Path: path, Reason: "is not valid JSON: " + err.Error()}
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			seen := map[string]bool{}
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, &Error{Path: path, Reason: "is not valid JSON: " + err.Error()}
				}
				k := kt.(string)
				kp := childPath(path, k)
				if seen[k] {
					return nil, &Error{Path: kp, Reason: "appears twice"}
				}
				seen[k] = true
				v, err := readValue(d, kp, depth+1)
				if err != nil {
					return nil, err
				}
				o.keys, o.vals = append(o.keys, k), append(o.vals, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, &Error{Path: path, Reason: "is not valid JSON: " + err.Error()}
			}
			return o, nil
		case '[':
			a := []any{}
			for i := 0; d.More(); i++ {
				v, err := readValue(d, path+"["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := d.Token(); err != nil {
				return nil, &Error{Path: path, Reason: "is not valid JSON: " + err.Error()}
			}
			return a, nil
		}
	case json.Number:
		if _, err := parseNumber(t); err != nil {
			return nil, &Error{Path: path, Reason: err.Error()}
		}
	}
	return t, nil
}

// childPath is the JSONPath of member k of path.
func childPath(path, k string) string {
	if k != "" && !strings.ContainsAny(k, ".[]'\" ") {
		return path + "." + k
	}
	return path + "[" + strconv.Quote(k) + "]"
}

// plain converts a decoded filter value to the form Decode gives payloads.
func plain(v any) any {
	switch v := v.(type) {
	case *object:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			m[k] = plain(v.vals[i])
		}
		return m
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// parseNumber returns the exact value of a JSON number's text, refusing an
// exponent beyond ±MaxExponent before any big allocation.
func parseNumber(n json.Number) (*big.Rat, error) {
	s := string(n)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || e > MaxExponent || e < -MaxExponent {
			return nil, fmt.Errorf("number %.40s has an exponent beyond ±%d", s, MaxExponent)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("number %.40s is not a decimal", s)
	}
	return r, nil
}
