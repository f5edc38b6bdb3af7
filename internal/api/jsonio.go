package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// readBody reads the request body, refusing more than limit bytes with 413.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}

		}
		return nil, badRequest("cannot read request body: %v", err)
	}
	return b, nil
}

// decodeBody reads a JSON object of at most limit bytes into v. Unknown
// fields and trailing data are refused; a syntax error is reported with its
// byte offset.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// decodeJSON decodes the JSON object in b into v, strictly.
func decodeJSON(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("request body is empty; want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, len(b))
	}
	off := dec.InputOffset()
	rest := b[off:]
	if extra := bytes.TrimLeft(rest, " \t\r\n"); len(extra) > 0 {
		return badRequest("malformed JSON at byte offset %d: unexpected data after the JSON object", off+int64(len(rest)-len(extra)))
	}
	return nil
}

// jsonError turns a decoding error into a 400 that says where.
func jsonError(err error, n int) error {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		// se.Offset counts the bytes read, the offending one included.
		return badRequest("malformed JSON at byte offset %d: %s", max(se.Offset-1, 0), strings.TrimPrefix(se.Error(), "json: "))
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := te.Field
		if field == "" {
			return badRequest("malformed request at byte offset %d: want a JSON object, not %s", te.Offset, te.Value)
		}
		return badRequest("field %q at byte offset %d: cannot use JSON %s as %s", field, te.Offset, te.Value, jsonKind(te.Type.String()))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return badRequest("malformed JSON at byte offset %d: unexpected end of input", n)
	}
	// Unknown fields, and errors from a field's UnmarshalJSON.
	return badRequest("invalid request: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go type the way a JSON user would.
func jsonKind(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case goType == "bool":
		return "a boolean"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"), strings.HasPrefix(goType, "uint"):
		return "a number"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	case goType == "time.Time":
		return "an RFC 3339 time"
	}
	return "an object"
}

// marshal encodes v as JSON without HTML escaping, ending in a newline.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeJSON writes v as the JSON response body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := marshal(v)
	if err != nil {
		// Only a programming error gets here: every response type marshals.
		http.Error(w, `{"error":{"code":"internal","message":"cannot encode response"}}`, http.StatusInternalServerError)
		return
	}
	writeRawJSON(w, status, b)
}

// writeRawJSON writes b, which is JSON, as the response body.
func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// list is the body of a list response.
type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// maxCursor bounds the length of a cursor parameter.
const maxCursor = 256

// pageParams reads ?limit= and ?cursor=.
func pageParams(r *http.Request) (store.Page, error) {
	q := r.URL.Query()
	var p store.Page
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			return p, badRequest("limit %q: want a whole number from 1 to 1000", s)
		}
		p.Limit = n
	}
	p.Cursor = q.Get("cursor")
	if len(p.Cursor) > maxCursor {
		return p, badRequest("cursor is longer than %d bytes", maxCursor)
	}
	return p, nil
}

// tenantParam reads ?tenant=: nil when absent (any tenant), else the tenant,
// which may be "" for the default tenant.
func tenantParam(r *http.Request) (*string, error) {
	q := r.URL.Query()
	if !q.Has("tenant") {
		return nil, nil
	}
	t := q.Get("tenant")
	if err := checkTenant(t); err != nil {
		return nil, badRequest("%v", err)
	}
	return &t, nil
}

// timeParam reads an RFC 3339 time from the query; zero when absent.
func timeParam(r *http.Request, name string) (time.Time, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, badRequest("%s %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", name, s)
	}
	return t, nil
}

// utc returns t in UTC, for responses.
func utc(t time.Time) time.Time { return t.UTC() }

// utcPtr returns *t in UTC, or nil.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pageTenantParams parses r's limit, cursor and tenant, the tenant
// narrowed to what the caller's key may see; visible is false when that
// is nothing (a tenant key asking for another tenant), and the list is
// then empty.
func pageTenantParams(r *http.Request) (page store.Page, tenant *string, visible bool, err error) {
	if page, err = pageParams(r); err != nil {
		return page, nil, false, err
	}
	if tenant, err = tenantParam(r); err != nil {
		return page, nil, false, err
	}
	tenant, visible = principalOf(r).Filter(tenant)
	return page, tenant, visible, nil
}

// listQuery is what every list of events or deliveries reads from its
// query string: limit and cursor, tenant, since, until and status.
type listQuery struct {
	Page         store.Page
	Tenant       *string
	Since, Until time.Time
	Status       store.DeliveryStatus
}

// listParams parses r's listQuery, the tenant narrowed to what the
// caller's key may see; visible is false when that is nothing (a tenant
// key asking for another tenant), and the list is then empty.
func listParams(r *http.Request) (lq listQuery, visible bool, err error) {
	if lq.Page, lq.Tenant, visible, err = pageTenantParams(r); err != nil || !visible {
		return lq, false, err
	}
	if lq.Since, err = timeParam(r, "since"); err != nil {
		return lq, false, err
	}
	if lq.Until, err = timeParam(r, "until"); err != nil {
		return lq, false, err
	}
	switch s := store.DeliveryStatus(r.URL.Query().Get("status")); s {
	case "", store.StatusPending, store.StatusSucceeded, store.StatusFailed, store.StatusCanceled:
		lq.Status = s
	default:
		return lq, false, badRequest("status %q: want pending, succeeded, failed or canceled", s)
	}
	return lq, true, nil
}
