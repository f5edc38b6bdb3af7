package rules

import (
	"bytes"
	"context"
	"errors"

	"github.com/hookrelay/hookrelay/internal/filter"
)

// CheckFilter checks an endpoint's payload filter (internal/filter's
// syntax) and returns it as it is to be stored: nil, for no filter, when
// text is empty, null or an empty object (which matches every payload).
// The error is a FieldError on "filter" whose reason starts with the JSON
// path of the fault, as in "$.data.amount.$gt: must be a number or a
// string".
func CheckFilter(text []byte) ([]byte, error) {
	t := bytes.TrimSpace(text)
	if len(t) == 0 || string(t) == "null" {
		return nil, nil
	}
	if _, err := filter.Parse(t); err != nil {
		if fe, ok := errors.AsType[*filter.Error](err); ok {
			return nil, &FieldError{Field: "filter", Reason: "is invalid at " + fe.Error()}
		}
		return nil, fieldError("filter", "is invalid: %v", err)
	}
	if isEmptyObject(t) {
		return nil, nil
	}
	return bytes.Clone(t), nil
}

// isEmptyObject reports whether t, a valid filter, is {} (spaces aside).
func isEmptyObject(t []byte) bool {
	return t[0] == '{' && len(bytes.TrimSpace(t[1:len(t)-1])) == 0
}

// TestFilter reports whether payload matches a filter: filterText when it
// is not nil (a filter to try before saving it), else the stored filter of
// endpoint id (an endpoint without one matches every payload). within
// restricts the endpoint as for GetEndpoint. Errors: FieldErrors on
// "filter" (as CheckFilter) and "payload" (not JSON); store.ErrNotFound.
func (r *Rules) TestFilter(ctx context.Context, id string, within *string, payload, filterText []byte) (bool, error) {
	text := filterText
	if text == nil {
		e, err := r.GetEndpoint(ctx, id, within)
		if err != nil {
			return false, err
		}
		text = e.Filter
	} else if id != "" {
		if _, err := r.GetEndpoint(ctx, id, within); err != nil {
			return false, err
		}
	}
	return MatchFilter(text, payload)
}

// MatchFilter reports whether payload matches the filter text (nil or
// empty: every JSON payload). Errors: FieldErrors on "filter" and
// "payload".
func MatchFilter(text, payload []byte) (bool, error) {
	var c collector
	checked, err := CheckFilter(text)
	c.add(err)
	v, perr := filter.Decode(payload)
	if perr != nil {
		c.add(fieldError("payload", "is not JSON: a payload filter matches JSON payloads only"))
	}
	if err := c.err(); err != nil {
		return false, err
	}
	if checked == nil {
		return true, nil
	}
	f, err := filter.Parse(checked)
	if err != nil {
		return false, err
	}
	return f.MatchValue(v), nil
}
