package rules

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits of the fields of endpoints, sources and events.
const (
	MaxURLLen         = 2048
	MaxTenantLen      = 128
	MaxNameLen        = 128
	MaxDescriptionLen = 1024
	MaxEventTypeLen   = 256
	MaxEventTypes     = 100
	MaxIdempotencyLen = 256
	MaxSecretLen      = 1024
	MaxRateLimit      = 10000
	// MaxSecrets is how many secrets an endpoint or a source keeps at
	// most; a rotation beyond it drops the oldest.
	MaxSecrets = 10
	// MaxRotationOverlap is the longest a rotated-out secret may keep
	// signing.
	MaxRotationOverlap = 30 * 24 * time.Hour
	// DefaultRotationOverlap is the overlap of a rotation that names none,
	// when Config.RotationOverlap is 0.
	DefaultRotationOverlap = 24 * time.Hour
	// urlCheckTimeout bounds the DNS lookups of a URL check.
	urlCheckTimeout = 5 * time.Second
)

// Seconds returns n seconds as a duration, saturated at the bounds of
// time.Duration: a count too large to represent, typed in a form or sent in
// a request, stays out of every range check instead of wrapping around into
// it (9223372037 seconds would otherwise become a negative duration).
func Seconds(n int64) time.Duration {
	const limit = math.MaxInt64 / int64(time.Second)
	return time.Duration(min(max(n, -limit), limit)) * time.Second
}

// CheckText refuses a value of field that is longer than max bytes, not
// UTF-8, or holds control characters.
func CheckText(field, s string, max int) error {
	switch {
	case len(s) > max:
		return fieldError(field, "is longer than %d bytes", max)
	case !utf8.ValidString(s):
		return fieldError(field, "is not valid UTF-8")
	case strings.ContainsFunc(s, unicode.IsControl):
		return fieldError(field, "contains a control character")
	}
	return nil
}

// CheckTenant refuses a malformed tenant name ("" is the default tenant).
func CheckTenant(t string) error {
	if err := CheckText("tenant", t, MaxTenantLen); err != nil {
		return err
	}
	if strings.TrimSpace(t) != t {
		return fieldError("tenant", "has leading or trailing spaces")
	}
	return nil
}

// CheckOwnTenant refuses, for endpoints and events that a person creates,
// a tenant reserved for the destinations of inbound sources: those are
// made with their source, and only the gateway creates their events.
func CheckOwnTenant(t string) error {
	if err := CheckTenant(t); err != nil {
		return err
	}
	if IsSourceTenant(t) {
		return fieldError("tenant", "%q is reserved for the destinations of inbound sources: add destinations to the source instead", t)
	}
	if t == store.OperatorTenant {
		return fieldError("tenant", "%q is reserved for operational webhooks (serve --operator-url)", t)
	}
	return nil
}

// IsSourceTenant reports whether tenant is that of a source's
// destinations (store.SourceTenantPrefix).
func IsSourceTenant(tenant string) bool {
	return strings.HasPrefix(tenant, store.SourceTenantPrefix)
}

// CheckEventType refuses an event type that is empty, too long, or holds
// spaces, control characters or '*'.
func CheckEventType(field, t string) error {
	return checkEventType(field, t, false)
}

func checkEventType(field, t string, filter bool) error {
	if t == "" {
		return fieldError(field, "is empty")
	}
	if len(t) > MaxEventTypeLen {
		return fieldError(field, "%q is longer than %d bytes", t, MaxEventTypeLen)
	}
	if !utf8.ValidString(t) || strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fieldError(field, "%q must be UTF-8 without spaces or control characters", t)
	}
	star := strings.IndexByte(t, '*')
	switch {
	case star < 0:
		return nil
	case !filter:
		return fieldError(field, "%q must not contain '*'", t)
	case t == "*", star == len(t)-1 && strings.HasSuffix(t, ".*") && len(t) > 2:
		return nil
	}
	return fieldError(field, `%q: '*' is allowed only as "*" or at the end after a dot, as in "invoice.*"`, t)
}

// CheckEventTypes checks an endpoint's event type filter and returns it
// without duplicates. An entry matches a type exactly, or is "*", or ends
// in ".*" and matches everything under that prefix.
func CheckEventTypes(types []string) ([]string, error) {
	if len(types) > MaxEventTypes {
		return nil, fieldError("event_types", "has more than %d entries", MaxEventTypes)
	}
	out := make([]string, 0, len(types))
	seen := make(map[string]bool, len(types))
	for _, t := range types {
		if err := checkEventType("event_types", t, true); err != nil {
			return nil, err
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// SplitList splits a list typed by a person, separated by commas or white
// space, as forms take event type filters.
func SplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// CheckRateLimit refuses a negative, infinite or absurd rate limit.
func CheckRateLimit(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > MaxRateLimit {
		return fieldError("rate_limit", "must be from 0 (none) to %d deliveries per second", MaxRateLimit)
	}
	return nil
}

// checkSecret refuses a secret scheme cannot use. The message never holds
// the secret.
func checkSecret(field string, s *signature.Scheme, secret string) error {
	if len(secret) > MaxSecretLen {
		return fieldError(field, "is longer than %d bytes", MaxSecretLen)
	}
	if err := signature.ValidateSecret(s, secret); err != nil {
		return fieldError(field, "is not valid for scheme %q: %v", s.Name(), err)
	}
	return nil
}

// newSecret generates a secret for the scheme.
func newSecret(s *signature.Scheme) (string, error) {
	secret, err := signature.GenerateSecret(s)
	if err != nil {
		return "", fmt.Errorf("generate a secret for scheme %s: %w", s.Name(), err)
	}
	return secret, nil
}

// CheckURL refuses a URL that is not absolute http(s), carries
// credentials, or whose host is in a private, loopback or otherwise
// forbidden network unless Config.AllowPrivateNetworks; it looks the host
// up in DNS, for at most a few seconds.
func (r *Rules) CheckURL(ctx context.Context, field, raw string) error {
	if raw == "" {
		return fieldError(field, "is required")
	}
	if len(raw) > MaxURLLen {
		return fieldError(field, "is longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldError(field, "%q: want an absolute http or https URL", raw)
	}
	if u.User != nil {
		return fieldError(field, "must not contain a user name or password")
	}
	ctx, cancel := context.WithTimeout(ctx, urlCheckTimeout)
	defer cancel()
	if err := delivery.CheckURL(ctx, raw, r.cfg.AllowPrivateNetworks); err != nil {
		if errors.Is(err, delivery.ErrForbiddenAddress) {
			return fieldError(field, "%q resolves to a private, loopback or otherwise forbidden address (this server allows only public ones)", raw)
		}
		return fieldError(field, "%q cannot be used: %v", raw, err)
	}
	return nil
}
