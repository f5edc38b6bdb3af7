package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the Client fields.
const (
	DefaultMaxRetries       = 3
	DefaultMinBackoff       = 250 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultMaxResponseBytes = 64 << 20
	DefaultUserAgent        = "hookrelay-go-client"
)

// A Client calls one hookrelay service. Its zero value is not usable:
// BaseURL and Key are required; the other fields' zero values mean the
// defaults documented on each. A Client is safe for concurrent use once
// its fields are set; do not change them while calls are in flight.
type Client struct {
	// BaseURL is the service's root, such as "http://127.0.0.1:8080";
	// the client adds the /api/v1/... paths. Required.
	BaseURL string
	// Key is the API key, sent as "Authorization: Bearer <Key>". Required.
	Key string
	// HTTPClient sends the requests; its Timeout bounds each attempt.
	// nil: http.DefaultClient.
	HTTPClient *http.Client
	// MaxRetries is how many times a call that may be repeated is retried
	// after a network error, a 429 or a 5xx. 0: DefaultMaxRetries (3);
	// negative: never.
	MaxRetries int
	// MinBackoff is the wait before the first retry; it doubles with each
	// retry up to MaxBackoff, and a random part of up to half of it is
	// taken off so that clients do not retry in step.
	// 0: DefaultMinBackoff (250 ms).
	MinBackoff time.Duration
	// MaxBackoff caps the wait before a retry. A Retry-After longer than
	// MaxBackoff is not waited for: the call returns the answer's *Error.
	// 0: DefaultMaxBackoff (10 s).
	MaxBackoff time.Duration
	// Sleep waits d before a retry, returning early with ctx.Err() when
	// ctx is done. nil: a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// MaxResponseBytes bounds a response body; a longer one is an error.
	// 0: DefaultMaxResponseBytes (64 MiB).
	MaxResponseBytes int64
	// UserAgent is the User-Agent header. "": DefaultUserAgent.
	UserAgent string
}

// New returns a Client for the service at baseURL (its root, such as
// "http://127.0.0.1:8080") that authenticates with key, with every other
// field at its default.
func New(baseURL, key string) *Client {
	return &Client{BaseURL: baseURL, Key: key}
}

// Sentinels that an *Error matches with errors.Is, by its status.
var (
	ErrBadRequest   = errors.New("client: bad request")             // 400: the request could not be read
	ErrUnauthorized = errors.New("client: unauthorized")            // 401: no valid API key
	ErrForbidden    = errors.New("client: forbidden")               // 403: the key may not do this
	ErrNotFound     = errors.New("client: not found")               // 404
	ErrConflict     = errors.New("client: conflict")                // 409
	ErrTooLarge     = errors.New("client: too large")               // 413: body or payload over its limit
	ErrValidation   = errors.New("client: validation failed")       // 422: readable, but refused
	ErrRateLimited  = errors.New("client: rate limited")            // 429
	ErrNoBaseURL    = errors.New("client: Client.BaseURL is empty") // returned before sending anything
)

// An Error is an answer of the API other than 2xx. errors.Is(err,
// ErrNotFound) and the other sentinels match it by StatusCode.
type Error struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Code is the API's error code (validation_failed, not_found, ...;
	// see docs/openapi.yaml), or "" when the body was not an API error.
	Code string
	// Message says what went wrong, for people: the API's message, or
	// the start of a body that was not an API error.
	Message string
	// Field is the first request field a validation error is about, as
	// the API's JSON names it ("url", "destinations[0].url"); "" when the
	// answer names none.
	Field string
	// Fields are every field a validation error refuses, with why.
	Fields []FieldError
	// Scope is the scope a forbidden (403) answer says the key lacks;
	// "" when it names none.
	Scope string
	// Pointer and Keyword locate a schema_violation: the JSON Pointer of
	// the first fault in the payload and the schema keyword it broke.
	Pointer, Keyword string
	// RetryAfter is the wait the answer's Retry-After header asked for;
	// 0 without one.
	RetryAfter time.Duration
}

// A FieldError is one request field an ErrValidation answer refuses.
type FieldError struct {
	Field string `json:"field"`
	// Reason completes a sentence that starts with Field, such as "is
	// longer than 2048 bytes".
	Reason string `json:"reason"`
}

// Error returns the message with the status and code, as
// "message (HTTP 404, not_found)".
func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("HTTP %d: %s", e.StatusCode, e.Message)
	}
	return fmt.Sprintf("%s (HTTP %d, %s)", e.Message, e.StatusCode, e.Code)
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	want, ok := map[error]int{
		ErrBadRequest:   http.StatusBadRequest,
		ErrUnauthorized: http.StatusUnauthorized,
		ErrForbidden:    http.StatusForbidden,
		ErrNotFound:     http.StatusNotFound,
		ErrConflict:     http.StatusConflict,
		ErrTooLarge:     http.StatusRequestEntityTooLarge,
		ErrValidation:   http.StatusUnprocessableEntity,
		ErrRateLimited:  http.StatusTooManyRequests,
	}[target]
	return ok && e.StatusCode == want
}

// request is one API call.
type request struct {
	method string
	path   string     // under BaseURL, such as /api/v1/endpoints
	query  url.Values // nil for none
	body   []byte     // nil for none
	// retry says the call may be repeated without a second effect.
	retry bool
}

// send makes the call, retrying it when r.retry allows, and returns the
// body of its 2xx answer.
func (c *Client) send(ctx context.Context, r request) ([]byte, error) {
	if c.BaseURL == "" {
		return nil, ErrNoBaseURL
	}
	target := strings.TrimRight(c.BaseURL, "/") + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	retries := c.MaxRetries
	switch {
	case !r.retry || retries < 0:
		retries = 0
	case retries == 0:
		retries = DefaultMaxRetries
	}
	for attempt := 0; ; attempt++ {
		b, transient, err := c.attempt(ctx, r, target)
		if err == nil || attempt >= retries || !transient || ctx.Err() != nil {
			return b, err
		}
		wait := c.backoff(attempt)
		if ae, ok := errors.AsType[*Error](err); ok && ae.RetryAfter > 0 {
			if ae.RetryAfter > orDefault(c.MaxBackoff, DefaultMaxBackoff) {
				return nil, err
			}
			wait = ae.RetryAfter
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("%w (waiting to retry after: %w)", serr, err)
		}
	}
}

// attempt sends the request once. A failure is transient when trying
// again may succeed: a network error, a 429 or a 5xx.
func (c *Client) attempt(ctx context.Context, r request, target string) (_ []byte, transient bool, _ error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, target, body)
	if err != nil {
		return nil, false, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", cmp(c.UserAgent, DefaultUserAgent))
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, true, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	limit := orDefault(c.MaxResponseBytes, DefaultMaxResponseBytes)
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, true, fmt.Errorf("%s %s: read response: %w", r.method, r.path, err)
	}
	if int64(len(b)) > limit {
		return nil, false, fmt.Errorf("%s %s: response larger than %d bytes", r.method, r.path, limit)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500, responseError(resp, b)
	}
	return b, false, nil
}

// responseError reads the API error in the body of a non-2xx answer.
func responseError(resp *http.Response, b []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var eb struct {
		Error errorObject `json:"error"`
	}
	if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
		eb.Error.fill(e)
	} else {
		e.Message = strings.TrimSpace(string(b[:min(len(b), 512)]))
	}
	return e
}

// errorObject is the "error" member of an error response, or of a
// refused event's result in a batch.
type errorObject struct {
	Code    string       `json:"code"`
	Message string       `json:"message"`
	Field   string       `json:"field"`
	Fields  []FieldError `json:"fields"`
	Scope   string       `json:"scope"`
	Pointer string       `json:"pointer"`
	Keyword string       `json:"keyword"`
}

// fill copies o into e.
func (o *errorObject) fill(e *Error) {
	e.Code, e.Message, e.Field, e.Fields = o.Code, o.Message, o.Field, o.Fields
	e.Scope, e.Pointer, e.Keyword = o.Scope, o.Pointer, o.Keyword
}

// retryAfter reads a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseInt(h, 10, 64); err == nil && s >= 0 {
		return time.Duration(min(s, 1<<31)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// backoff returns the wait before retry number attempt+1: MinBackoff
// doubled attempt times, capped at MaxBackoff, less up to half at random.
func (c *Client) backoff(attempt int) time.Duration {
	lo, hi := orDefault(c.MinBackoff, DefaultMinBackoff), orDefault(c.MaxBackoff, DefaultMaxBackoff)
	d := lo
	for range attempt {
		if d >= hi/2 {
			d = hi
			break
		}
		d *= 2
	}
	d = min(d, hi)
	return d - rand.N(d/2+1)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func orDefault[T int64 | time.Duration](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// rawSetter is a response type that keeps the JSON it was decoded from.
type rawSetter[T any] interface {
	*T
	setRaw(json.RawMessage)
}

// call sends r, with in (nil for none) as its JSON body, and decodes the
// answer into a new T whose Raw is the answer.
func call[T any, PT rawSetter[T]](ctx context.Context, c *Client, r request, in any) (*T, error) {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		r.body = b
	}
	b, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	return decode[T, PT](r, b)
}

// decode decodes b, the answer to r, into a new T whose Raw is b.
func decode[T any, PT rawSetter[T]](r request, b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	PT(v).setRaw(json.RawMessage(b))
	return v, nil
}

// Page is one page of a list: its items and, unless it is the last page,
// the cursor of the next one.
type Page[T any] struct {
	// Data are the page's items; each item's Raw is its JSON.
	Data []*T `json:"data"`
	// NextCursor, passed as a filter's Cursor, asks for the next page;
	// "" on the last page.
	NextCursor string `json:"next_cursor,omitempty"`
	// Raw is the JSON of the whole page as the server sent it.
	Raw json.RawMessage `json:"-"`
}

// list GETs one page at r.
func list[T any, PT rawSetter[T]](ctx context.Context, c *Client, r request) (*Page[T], error) {
	r.method, r.retry = http.MethodGet, true
	b, err := c.send(ctx, r)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Data       []json.RawMessage `json:"data"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("%s %s: decode response: %w", r.method, r.path, err)
	}
	p := &Page[T]{Data: make([]*T, len(raw.Data)), NextCursor: raw.NextCursor, Raw: json.RawMessage(b)}
	for i, item := range raw.Data {
		if p.Data[i], err = decode[T, PT](r, item); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// all returns the items of every page at r, from r's cursor on.
func all[T any, PT rawSetter[T]](ctx context.Context, c *Client, r request) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		r := r // each range starts from the first page asked for
		r.query = cloneValues(r.query)
		for {
			p, err := list[T, PT](ctx, c, r)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, item := range p.Data {
				if !yield(item, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			r.query.Set("cursor", p.NextCursor)
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// ListOptions picks a page of a list without other filters.
type ListOptions struct {
	// Limit is how many items a page holds, 1 to 1000. 0: the server's
	// default (50).
	Limit int
	// Cursor is the NextCursor of the previous page; "" for the first.
	Cursor string
}

// pageQuery adds limit and cursor to q (created when nil) and returns it.
func pageQuery(q url.Values, limit int, cursor string) url.Values {
	if q == nil {
		q = url.Values{}
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	return q
}

// idPath returns prefix + "/" + the escaped id + suffix.
func idPath(prefix, id, suffix string) string {
	return prefix + "/" + url.PathEscape(id) + suffix
}
