package signature

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes is the body size limit of a [Verifier] whose
// MaxBodyBytes is zero. GitHub sends payloads of up to 25 MB; raise the
// limit for such senders.
const DefaultMaxBodyBytes = 5 << 20

// A Verifier checks the signatures of incoming requests, as a check to call
// ([Verifier.Check]) or as middleware ([Verifier.Handler]). Set its fields
// before first use and do not change them afterwards; it is then safe for
// concurrent use.
type Verifier struct {
	// Scheme is the signature scheme requests must follow.
	Scheme *Scheme

	// Secrets are the secrets to accept, newest first.
	Secrets []string

	// MaxBodyBytes limits the body read. Zero means DefaultMaxBodyBytes; a
	// larger body is refused with an error wrapping [*http.MaxBytesError].
	MaxBodyBytes int64

	// Options are passed to [Scheme.Verify].
	Options VerifyOptions

	// Reject, if set, answers requests that fail verification in place of
	// the default, which writes status 401 with the short phrase [Reason]
	// gives (413 for an oversized body, 400 for a body that could not be
	// read, 500 for [ErrSecret]). It is the place to log err; it must not
	// send err's text to the client.
	Reject func(w http.ResponseWriter, r *http.Request, err error)
}

// Check reads r's body, at most MaxBodyBytes of it, and verifies it with
// the headers of r. It replaces r.Body with a reader of the same bytes, so
// handlers after it read the body unchanged, and returns those bytes. The
// error is one [Scheme.Verify] returns, or a read error (wrapping
// [*http.MaxBytesError] if the body was too large).
func (v *Verifier) Check(r *http.Request) ([]byte, error) {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		var err error
		body, err = readBody(r, limit)
		r.Body.Close()
		if err != nil {
			r.Body = http.NoBody
			return nil, err
		}
	}
	restoreBody(r, body)
	if err := v.Scheme.Verify(r.Header, body, v.Secrets, &v.Options); err != nil {
		return body, err
	}
	return body, nil
}

func readBody(r *http.Request, limit int64) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > limit {
		n = 512
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	_, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("signature: read body: %w", err)
	}
	if int64(buf.Len()) > limit {
		return nil, fmt.Errorf("signature: read body: %w", &http.MaxBytesError{Limit: limit})
	}
	return buf.Bytes(), nil
}

func restoreBody(r *http.Request, body []byte) {
	if len(body) == 0 {
		r.Body = http.NoBody
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	r.ContentLength = int64(len(body))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
}

// Handler returns a handler that passes to h only requests whose signature
// verifies, with their body intact; the others get status 401 and a short
// reason in plain text (see Reject).
func (v *Verifier) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := v.Check(r); err != nil {
			if v.Reject != nil {
				v.Reject(w, r, err)
				return
			}
			status, reason := rejection(err)
			http.Error(w, reason, status)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// rejection returns the status and short reason the default rejection
// sends for err.
func rejection(err error) (int, string) {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, "body too large"
	case errors.Is(err, ErrSecret):
		return http.StatusInternalServerError, Reason(err)
	case errors.Is(err, ErrNoSignature), errors.Is(err, ErrMalformed), errors.Is(err, ErrExpired),
		errors.Is(err, ErrMismatch), errors.Is(err, ErrReplayed):
		return http.StatusUnauthorized, Reason(err)
	}
	return http.StatusBadRequest, "cannot read request"
}

// Middleware returns middleware that verifies requests with scheme and
// secrets (newest first) and the defaults of a [Verifier], for use as
//
//	mux.Handle("POST /hooks/github", signature.Middleware(github, secret)(handler))
//
// Use a Verifier directly to set a body limit, options or a Reject handler.
func Middleware(s *Scheme, secrets ...string) func(http.Handler) http.Handler {
	v := &Verifier{Scheme: s, Secrets: secrets}
	return v.Handler
}
