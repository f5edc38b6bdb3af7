package filter

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// node is a compiled condition, evaluated on a value; present is false for
// an absent field (v is then nil).
type node interface {
	match(v any, present bool) bool
}

// compiler builds the nodes of one filter and counts them.
type compiler struct{ nodes int }

func (c *compiler) count(path string) error {
	c.nodes++
	if c.nodes > MaxNodes {
		return &Error{Path: path, Reason: fmt.Sprintf("the filter holds more than %d conditions", MaxNodes)}
	}
	return nil
}

// object compiles a filter object: fields and $and, $or, $not.
func (c *compiler) object(path string, o *object) (*objNode, error) {
	n := &objNode{}
	for i, k := range o.keys {
		kp, v := childPath(path, k), o.vals[i]
		if err := c.count(kp); err != nil {
			return nil, err
		}
		switch {
		case k == "$and" || k == "$or":
			list, ok := v.([]any)
			if !ok || len(list) == 0 {
				return nil, &Error{Path: kp, Reason: "must be a non-empty array of filter objects"}
			}
			subs := make([]*objNode, len(list))
			for j, e := range list {
				ep := kp + "[" + strconv.Itoa(j) + "]"
				eo, ok := e.(*object)
				if !ok {
					return nil, &Error{Path: ep, Reason: "must be a filter object"}
				}
				s, err := c.object(ep, eo)
				if err != nil {
					return nil, err
				}
				subs[j] = s
			}
			n.logic = append(n.logic, &logicNode{or: k == "$or", subs: subs})
		case k == "$not":
			eo, ok := v.(*object)
			if !ok {
				return nil, &Error{Path: kp, Reason: "must be a filter object"}
			}
			s, err := c.object(kp, eo)
			if err != nil {
				return nil, err
			}
			n.logic = append(n.logic, &notNode{s})
		case strings.HasPrefix(k, "$"):
			return nil, &Error{Path: kp, Reason: fmt.Sprintf("unknown operator %q (a filter object takes fields, $and, $or and $not; a field $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $exists, $startsWith, $endsWith and $not)", k)}
		default:
			segs := strings.Split(k, ".")
			for _, s := range segs {
				if s == "" {
					return nil, &Error{Path: kp, Reason: "has an empty segment in its dotted path"}
				}
			}
			cond, err := c.condition(kp, v)
			if err != nil {
				return nil, err
			}
			// "a.b.c": x is "a": {"b": {"c": x}}.
			for j := len(segs) - 1; j > 0; j-- {
				cond = &objNode{fields: []field{{key: segs[j], cond: cond}}}
			}
			n.fields = append(n.fields, field{key: segs[0], cond: cond})
		}
	}
	return n, nil
}

// condition compiles what a field must be: a literal, an operator object or
// a nested filter.
func (c *compiler) condition(path string, v any) (node, error) {
	o, ok := v.(*object)
	if !ok {
		return c.literal(v), nil
	}
	if len(o.keys) == 0 {
		return nil, &Error{Path: path, Reason: `is an empty object: name a condition, or use {"$eq": {}} for an empty object`}
	}
	ops, fields := 0, 0
	for _, k := range o.keys {
		if isFieldOp(k) {
			ops++
		} else {
			fields++
		}
	}
	switch {
	case ops > 0 && fields > 0:
		return nil, &Error{Path: path, Reason: "mixes operators and nested fields: put the fields in a nested filter or use $and"}
	case ops == 0:
		return c.object(path, o)
	}
	return c.operators(path, o)
}

// isFieldOp reports whether k is an operator on a field's value (rather
// than a field or $and/$or; $not is both, taken as a field operator).
func isFieldOp(k string) bool {
	switch k {
	case "$eq", "$neq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$exist", "$startsWith", "$endsWith", "$not":
		return true
	}
	return false
}

// literal is the condition "equals v".
func (c *compiler) literal(v any) node {
	return &eqNode{lit: literalOf(v)}
}

// operators compiles an operator object: every operator must hold.
func (c *compiler) operators(path string, o *object) (node, error) {
	var all andNode
	for i, k := range o.keys {
		kp, v := childPath(path, k), o.vals[i]
		if err := c.count(kp); err != nil {
			return nil, err
		}
		var n node
		switch k {
		case "$eq", "$neq":
			n = c.literal(v)
			if k == "$neq" {
				n = &negNode{n}
			}
		case "$gt", "$gte", "$lt", "$lte":
			l := literalOf(v)
			if l.kind != kindNumber && l.kind != kindString {
				return nil, &Error{Path: kp, Reason: "must be a number or a string"}
			}
			n = &cmpNode{op: k, lit: l}
		case "$in", "$nin":
			list, ok := v.([]any)
			if !ok {
				return nil, &Error{Path: kp, Reason: "must be an array of values"}
			}
			in := &inNode{}
			for _, e := range list {
				in.lits = append(in.lits, literalOf(e))
			}
			n = in
			if k == "$nin" {
				n = &negNode{n}
			}
		case "$exists", "$exist":
			b, ok := v.(bool)
			if !ok {
				return nil, &Error{Path: kp, Reason: "must be true or false"}
			}
			n = existsNode(b)
		case "$startsWith", "$endsWith":
			s, ok := v.(string)
			if !ok {
				return nil, &Error{Path: kp, Reason: "must be a string"}
			}
			n = &affixNode{prefix: k == "$startsWith", s: s}
		case "$not":
			inner, err := c.notOperand(kp, v)
			if err != nil {
				return nil, err
			}
			n = &negNode{inner}
		}
		all = append(all, n)
	}
	if len(all) == 1 {
		return all[0], nil
	}
	return all, nil
}

// notOperand compiles the operand of a field's $not: an operator object,
// or a literal (not equal).
func (c *compiler) notOperand(path string, v any) (node, error) {
	o, ok := v.(*object)
	if !ok {
		return c.literal(v), nil
	}
	for _, k := range o.keys {
		if !isFieldOp(k) {
			return nil, &Error{Path: childPath(path, k), Reason: "must be an operator: $not on a field takes an operator object or a literal"}
		}
	}
	if len(o.keys) == 0 {
		return nil, &Error{Path: path, Reason: "is an empty object: name an operator"}
	}
	return c.operators(path, o)
}

// The kinds of literal values.
const (
	kindNull = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

// lit is a literal of a filter, its number's exact value computed once.
type lit struct {
	kind  int
	b     bool
	s     string // a string, or a number's text
	n     *big.Rat
	i     int64 // the number, when isInt
	isInt bool  // the number is an integer literal that fits in an int64
	value any   // the plain value, for arrays and objects
}

func literalOf(v any) lit {
	switch v := v.(type) {
	case nil:
		return lit{kind: kindNull}
	case bool:
		return lit{kind: kindBool, b: v}
	case string:
		return lit{kind: kindString, s: v}
	case json.Number:
		// readValue checked the number already.
		r, _ := parseNumber(v)
		i, err := strconv.ParseInt(string(v), 10, 64)
		return lit{kind: kindNumber, s: string(v), n: r, i: i, isInt: err == nil}
	case []any:
		return lit{kind: kindArray, value: plain(v)}
	}
	return lit{kind: kindObject, value: plain(v)}
}
