package filter

import (
	"cmp"
	"encoding/json"
	"strconv"
	"strings"
)

// objNode is a filter object: every field condition and every logical
// condition holds. On an array, its fields must hold together for one
// element, and its logical conditions hold for the array (their own
// filter objects then look at the elements): so $not is the complement.
type objNode struct {
	fields []field
	logic  []node
}

type field struct {
	key  string
	cond node
}

func (n *objNode) match(v any, present bool) bool {
	for _, l := range n.logic {
		if !l.match(v, present) {
			return false
		}
	}
	if len(n.fields) == 0 {
		return true
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if n.matchFields(e) {
				return true
			}
		}
		return false
	}
	return n.matchFields(v)
}

// matchFields reports whether every field condition holds on v.
func (n *objNode) matchFields(v any) bool {
	m, _ := v.(map[string]any)
	for _, f := range n.fields {
		child, ok := m[f.key]
		if !f.cond.match(child, ok) {
			return false
		}
	}
	return true
}

// logicNode is $and or $or of filter objects.
type logicNode struct {
	or   bool
	subs []*objNode
}

func (n *logicNode) match(v any, present bool) bool {
	for _, s := range n.subs {
		if s.match(v, present) == n.or {
			return n.or
		}
	}
	return !n.or
}

// notNode is a filter object's $not.
type notNode struct{ sub *objNode }

func (n *notNode) match(v any, present bool) bool { return !n.sub.match(v, present) }

// negNode negates a field's condition: $neq, $nin, $not.
type negNode struct{ inner node }

func (n *negNode) match(v any, present bool) bool { return !n.inner.match(v, present) }

// andNode is an operator object of several operators.
type andNode []node

func (n andNode) match(v any, present bool) bool {
	for _, c := range n {
		if !c.match(v, present) {
			return false
		}
	}
	return true
}

// existsNode is $exists.
type existsNode bool

func (n existsNode) match(_ any, present bool) bool { return present == bool(n) }

// anyElement reports whether pred holds for v or, v being an array, for one
// of its elements.
func anyElement(v any, pred func(any) bool) bool {
	if pred(v) {
		return true
	}
	if a, ok := v.([]any); ok {
		for _, e := range a {
			if pred(e) {
				return true
			}
		}
	}
	return false
}

// eqNode is equality with a literal.
type eqNode struct{ lit lit }

func (n *eqNode) match(v any, present bool) bool {
	return present && anyElement(v, n.lit.equal)
}

// inNode is $in.
type inNode struct{ lits []lit }

func (n *inNode) match(v any, present bool) bool {
	if !present {
		return false
	}
	return anyElement(v, func(e any) bool {
		for _, l := range n.lits {
			if l.equal(e) {
				return true
			}
		}
		return false
	})
}

// cmpNode is $gt, $gte, $lt or $lte with a number or a string.
type cmpNode struct {
	op  string
	lit lit
}

func (n *cmpNode) match(v any, present bool) bool {
	if !present {
		return false
	}
	return anyElement(v, func(e any) bool {
		c, ok := n.lit.compare(e)
		if !ok {
			return false
		}
		switch n.op {
		case "$gt":
			return c > 0
		case "$gte":
			return c >= 0
		case "$lt":
			return c < 0
		}
		return c <= 0
	})
}

// affixNode is $startsWith or $endsWith.
type affixNode struct {
	prefix bool
	s      string
}

func (n *affixNode) match(v any, present bool) bool {
	if !present {
		return false
	}
	return anyElement(v, func(e any) bool {
		s, ok := e.(string)
		if !ok {
			return false
		}
		if n.prefix {
			return strings.HasPrefix(s, n.s)
		}
		return strings.HasSuffix(s, n.s)
	})
}

// compare compares v with the literal: the sign of v - lit, and false if
// they cannot be compared (different kinds, or a payload number beyond the
// exponent bound).
func (l lit) compare(v any) (int, bool) {
	switch v := v.(type) {
	case string:
		if l.kind != kindString {
			return 0, false
		}
		return strings.Compare(v, l.s), true
	case json.Number:
		if l.kind != kindNumber {
			return 0, false
		}
		if string(v) == l.s {
			return 0, true
		}
		if l.isInt {
			// The common case, exact without big numbers: both integers
			// that fit in 64 bits.
			if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
				return cmp.Compare(i, l.i), true
			}
		}
		r, err := parseNumber(v)
		if err != nil {
			return 0, false
		}
		return r.Cmp(l.n), true
	}
	return 0, false
}

// equal reports whether v equals the literal.
func (l lit) equal(v any) bool {
	switch l.kind {
	case kindNull:
		return v == nil
	case kindBool:
		b, ok := v.(bool)
		return ok && b == l.b
	case kindString, kindNumber:
		c, ok := l.compare(v)
		return ok && c == 0
	}
	return deepEqual(l.value, v)
}

// deepEqual compares two decoded values, numbers as exact decimals.
func deepEqual(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case string:
		bs, ok := b.(string)
		return ok && a == bs
	case json.Number:
		bn, ok := b.(json.Number)
		return ok && numbersEqual(a, bn)
	case []any:
		ba, ok := b.([]any)
		if !ok || len(a) != len(ba) {
			return false
		}
		for i := range a {
			if !deepEqual(a[i], ba[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) {
			return false
		}
		for k, av := range a {
			bv, ok := bm[k]
			if !ok || !deepEqual(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

func numbersEqual(a, b json.Number) bool {
	if a == b {
		return true
	}
	ra, err := parseNumber(a)
	if err != nil {
		return false
	}
	rb, err := parseNumber(b)
	if err != nil {
		return false
	}
	return ra.Cmp(rb) == 0
}
