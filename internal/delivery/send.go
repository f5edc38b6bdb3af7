package delivery

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/signature"
)

// UserAgent is the User-Agent of every delivery.
const UserAgent = "hookrelay"

// MaxResponseRead is how much of a response body Send reads; a longer body
// is cut there and its connection closed rather than drained.
const MaxResponseRead = 64 << 10

// Result is the outcome of one request that got a response.
type Result struct {
	StatusCode int
	// Header is the response's header.
	Header http.Header
	// Body is the start of the response body, at most MaxResponseRead bytes
	// (Send), or the engine's Config.MaxResponseBytes.
	Body []byte
	// Truncated reports that the body was longer than Body.
	Truncated bool
	// RequestHeader is the header sent, signature included.
	RequestHeader http.Header
	// Duration is from sending the request to reading the response body.
	Duration time.Duration
}

// HTTPError is the error Send returns with its Result when the response is
// not a 2xx.
type HTTPError struct {
	StatusCode int
	// Hint adds what the status means for the endpoint, e.g. for 410.
	Hint string
}

func (e *HTTPError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// goneHint is recorded on a 410 response. Standard Webhooks suggests that a
// sender disable an endpoint that answers 410; hookrelay fails the delivery
// without retry and leaves disabling to the operator (or to auto-disable).
const goneHint = "endpoint says it is gone; Standard Webhooks suggests disabling it"

func statusError(code int) *HTTPError {
	e := &HTTPError{StatusCode: code}
	switch {
	case code == http.StatusGone:
		e.Hint = goneHint
	case code >= 300 && code <= 399:
		e.Hint = "redirects are not followed"
	}
	return e
}

// Send POSTs signed.Body to url with signed.Header, Content-Type
// application/json and User-Agent hookrelay, and reads up to
// MaxResponseRead bytes of the response. The body sent is exactly
// signed.Body. When a response arrives, Send returns its Result, and with it
// a *HTTPError when the status is not 2xx; when none does (network error,
// timeout, refused address), it returns a nil Result and the error.
func Send(ctx context.Context, client *http.Client, url string, signed signature.Signed) (*Result, error) {
	return send(ctx, client, url, signed, MaxResponseRead)
}

// send is Send keeping only keep bytes of the body.
func send(ctx context.Context, client *http.Client, url string, signed signature.Signed, keep int64) (*Result, error) {
	return sendWith(ctx, client, url, signed.Body, requestHeader(signed), keep)
}

// requestHeader is the header a delivery of signed is sent with.
func requestHeader(signed signature.Signed) http.Header {
	h := make(http.Header, len(signed.Header)+2)
	for k, v := range signed.Header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	h.Set("User-Agent", UserAgent)
	return h
}

// sendWith POSTs body with header h (not copied) and keeps up to keep
// bytes of the response body.
func sendWith(ctx context.Context, client *http.Client, url string, body []byte, h http.Header, keep int64) (*Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header = h
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post: %w", err)
	}
	res := &Result{StatusCode: resp.StatusCode, Header: resp.Header, RequestHeader: h}
	body, truncated, rerr := readBody(resp.Body, keep)
	resp.Body.Close()
	res.Body, res.Truncated = body, truncated
	res.Duration = time.Since(start)
	if rerr != nil {
		// The status line arrived; a broken body does not change the
		// outcome of a 2xx, but a non-2xx keeps its status error.
		res.Truncated = true
	}
	if !Success(resp.StatusCode) {
		return res, statusError(resp.StatusCode)
	}
	return res, nil
}

// readBody keeps the first keep bytes of r and reads on (discarding) up to
// MaxResponseRead in all, so that a short body leaves the connection
// reusable; it reports whether there was more than it kept.
func readBody(r io.Reader, keep int64) ([]byte, bool, error) {
	keep = min(keep, MaxResponseRead)
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, keep))
	if err != nil {
		return buf.Bytes(), true, err
	}
	if n < keep {
		return buf.Bytes(), false, nil
	}
	// Is there more? Discard up to the read limit.
	m, err := io.Copy(io.Discard, io.LimitReader(r, MaxResponseRead-keep+1))
	return buf.Bytes(), m > 0, err
}
