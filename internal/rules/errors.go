package rules

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is a setting that cannot be used.
type FieldError struct {
	// Field names the setting as the REST API's JSON does: "url",
	// "event_types", "secrets[1]", "destinations[0].url".
	Field string
	// Reason completes a sentence that starts with the field's name, such
	// as "is longer than 2048 bytes". It never holds a secret.
	Reason string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Reason }

// fieldError returns a *FieldError for field with a formatted reason.
func fieldError(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// FieldErrors is every setting of one request that cannot be used, in the
// order of the fields.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap lets errors.As find each *FieldError.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Fields returns the field errors err holds: itself if it is a
// *FieldError, the list of a FieldErrors, nil for any other error.
func Fields(err error) []*FieldError {
	if es, ok := errors.AsType[FieldErrors](err); ok {
		return es
	}
	if e, ok := errors.AsType[*FieldError](err); ok {
		return []*FieldError{e}
	}
	return nil
}

// prefixed returns err's field errors with prefix before each field name
// (a destination's "url" becomes "destinations[2].url"); other errors are
// returned as they are.
func prefixed(prefix string, err error) error {
	fs := Fields(err)
	if fs == nil {
		return err
	}
	out := make(FieldErrors, len(fs))
	for i, f := range fs {
		out[i] = &FieldError{Field: prefix + f.Field, Reason: f.Reason}
	}
	return out
}

// collector gathers field errors.
type collector struct{ errs FieldErrors }

// add records err, which is a *FieldError, a FieldErrors or nil.
func (c *collector) add(err error) {
	if err == nil {
		return
	}
	if fs := Fields(err); fs != nil {
		c.errs = append(c.errs, fs...)
		return
	}
	c.errs = append(c.errs, &FieldError{Field: "request", Reason: err.Error()})
}

// err returns what was gathered, nil if nothing.
func (c *collector) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

var (
	// ErrUnsigned is returned (wrapped) for a change that does not apply
	// to an endpoint that forwards unsigned (scheme "none"), such as a
	// rotation of its secret: it has none.
	ErrUnsigned = errors.New("the endpoint forwards unsigned and has no secret")
	// ErrChanged is returned (wrapped) when the stored state a change was
	// based on (a form's version) has changed since.
	ErrChanged = errors.New("changed since it was read")
)
