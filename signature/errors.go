package signature

import (
	"errors"
	"strings"
	"time"
)

// Sentinel errors. [Scheme.Verify], [Verifier.Check] and the middleware
// return them wrapped in an [*Error]; test for them with [errors.Is].
var (
	// ErrUnknownScheme is returned by [Lookup] for a name that is not a
	// built-in scheme.
	ErrUnknownScheme = errors.New("unknown signature scheme")

	// ErrNoSignature means a header the scheme needs is missing: the
	// signature header itself, or the ID or timestamp header that is signed
	// with it, or a signature header that holds no signature of a version
	// the scheme knows.
	ErrNoSignature = errors.New("missing signature header")

	// ErrMalformed means a signature or timestamp header is present but
	// cannot be parsed: a signature that does not decode in the scheme's
	// encoding or has the wrong length for its algorithm, a timestamp that
	// is not a decimal number of seconds.
	ErrMalformed = errors.New("malformed signature header")

	// ErrExpired means the signed timestamp is further from the current time
	// than the scheme's tolerance, in either direction.
	ErrExpired = errors.New("timestamp outside tolerance")

	// ErrMismatch means the header held well-formed signatures but none of
	// them was made with any of the secrets over the body received.
	ErrMismatch = errors.New("no signature matched")

	// ErrReplayed means the signature is valid but the [SeenStore] in
	// [VerifyOptions] has already seen this message at this timestamp.
	ErrReplayed = errors.New("message replayed")

	// ErrSecret means a secret is empty or not in the form the scheme needs
	// (for example a whsec_ secret that is not base64). It is a
	// configuration error, not a property of the request.
	ErrSecret = errors.New("invalid secret")
)

// An Error reports why a request failed verification. Err is one of the
// sentinels above. No field ever holds a secret, a key or the signature that
// was expected.
type Error struct {
	Scheme string // scheme name
	Header string // header concerned, in its canonical form, if any
	Err    error  // ErrNoSignature, ErrMalformed, ErrExpired, ErrMismatch, ErrReplayed or ErrSecret

	// Detail says more about the failure in words, for logs and the CLI:
	// which signature was malformed and how, how far off the timestamp is.
	Detail string

	// Timestamp is the signed timestamp, for timestamped schemes once it has
	// been parsed.
	Timestamp time.Time
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("signature: ")
	if e.Scheme != "" {
		b.WriteString(e.Scheme)
		b.WriteString(": ")
	}
	if e.Header != "" {
		b.WriteString(e.Header)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Reason returns a short fixed phrase for err that is safe to show to the
// sender of a request, such as "signature mismatch". It is what the
// middleware writes in its 401 responses.
func Reason(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNoSignature):
		return "missing signature"
	case errors.Is(err, ErrMalformed):
		return "malformed signature"
	case errors.Is(err, ErrExpired):
		return "timestamp outside tolerance"
	case errors.Is(err, ErrMismatch):
		return "signature mismatch"
	case errors.Is(err, ErrReplayed):
		return "replayed message"
	case errors.Is(err, ErrSecret):
		return "verification misconfigured"
	}
	return "invalid request"
}
