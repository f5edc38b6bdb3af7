package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits on the fields of requests.
const (
	maxURLLen         = 2048
	maxTenantLen      = 128
	maxNameLen        = 128
	maxDescriptionLen = 1024
	maxEventTypeLen   = 256
	maxEventTypes     = 100
	maxIdemKeyLen     = 256
	maxSecretLen      = 1024
	maxRateLimit      = 10000
	// urlCheckTimeout bounds the DNS lookups of CheckURL.
	urlCheckTimeout = 5 * time.Second
)

// defaultScheme is the scheme of endpoints that name none.
const defaultScheme = "standard"

// customSchemeName is the Scheme of endpoints with a custom scheme.
const customSchemeName = "custom"

// checkText refuses a value that is too long, not UTF-8, or holds control
// characters.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", field)
	}
	if strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("%s contains a control character", field)
	}
	return nil
}

// checkTenant refuses a malformed tenant name ("" is the default tenant).
func checkTenant(t string) error {
	if err := checkText("tenant", t, maxTenantLen); err != nil {
		return err
	}
	if strings.TrimSpace(t) != t {
		return errors.New("tenant has leading or trailing spaces")
	}
	return nil
}

// checkName refuses an event type or event type filter that is empty, too
// long or holds spaces; filter allows the wildcards "*" and "prefix.*".
func checkEventType(field, t string, filter bool) error {
	if t == "" {
		return fmt.Errorf("%s is empty", field)
	}
	if len(t) > maxEventTypeLen {
		return fmt.Errorf("%s %q is longer than %d bytes", field, t, maxEventTypeLen)
	}
	if !utf8.ValidString(t) || strings.ContainsFunc(t, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return fmt.Errorf("%s %q must be UTF-8 without spaces or control characters", field, t)
	}
	star := strings.IndexByte(t, '*')
	switch {
	case star < 0:
		return nil
	case !filter:
		return fmt.Errorf("%s %q must not contain '*'", field, t)
	case t == "*", star == len(t)-1 && strings.HasSuffix(t, ".*") && len(t) > 2:
		return nil
	}
	return fmt.Errorf("%s %q: '*' is allowed only as \"*\" or at the end after a dot, as in \"invoice.*\"", field, t)
}

// checkEventTypes validates an endpoint's event type filter and returns it
// without duplicates.
func checkEventTypes(types []string) ([]string, error) {
	if len(types) > maxEventTypes {
		return nil, fmt.Errorf("event_types has more than %d entries", maxEventTypes)
	}
	out := make([]string, 0, len(types))
	seen := make(map[string]bool, len(types))
	for _, t := range types {
		if err := checkEventType("event type filter", t, true); err != nil {
			return nil, err
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// checkRateLimit refuses a negative, infinite or absurd rate limit.
func checkRateLimit(r float64) error {
	if math.IsNaN(r) || r < 0 || r > maxRateLimit {
		return fmt.Errorf("rate_limit must be from 0 (none) to %d deliveries per second", maxRateLimit)
	}
	return nil
}

// checkURL refuses a URL that is not absolute http(s), or whose host is in
// a private network unless those are allowed.
func (a *API) checkURL(ctx context.Context, raw string) error {
	if raw == "" {
		return invalid("url is required")
	}
	if len(raw) > maxURLLen {
		return invalid("url is longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("url %q: want an absolute http or https URL", raw)
	}
	if u.User != nil {
		return invalid("url must not contain credentials")
	}
	ctx, cancel := context.WithTimeout(ctx, urlCheckTimeout)
	defer cancel()
	if err := delivery.CheckURL(ctx, raw, a.allowPrivate); err != nil {
		if errors.Is(err, delivery.ErrForbiddenAddress) {
			return invalid("url %q resolves to a private, loopback or otherwise forbidden address (the server allows only public ones)", raw)
		}
		return invalid("url %q: %v", raw, err)
	}
	return nil
}

// resolveScheme returns the signature scheme that name (default "standard")
// and, for name "custom", custom describe, with the name and custom JSON to
// store.
func resolveScheme(name string, custom json.RawMessage) (*signature.Scheme, string, []byte, error) {
	hasCustom := len(custom) > 0 && string(custom) != "null"
	if name == "" {
		name = defaultScheme
		if hasCustom {
			name = customSchemeName
		}
	}
	if name != customSchemeName {
		if hasCustom {
			return nil, "", nil, invalid("custom_scheme is only allowed with scheme %q", customSchemeName)
		}
		s, err := signature.Lookup(name)
		if err != nil {
			return nil, "", nil, invalid("unknown scheme %q: want one of %s, or %q with custom_scheme", name, strings.Join(signature.Names(), ", "), customSchemeName)
		}
		return s, s.Name(), nil, nil
	}
	if !hasCustom {
		return nil, "", nil, invalid("scheme %q needs custom_scheme", customSchemeName)
	}
	if err := checkCustomFields(custom); err != nil {
		return nil, "", nil, err
	}
	var cfg signature.CustomConfig
	if err := json.Unmarshal(custom, &cfg); err != nil {
		return nil, "", nil, invalid("custom_scheme: %v", err)
	}
	s, err := signature.Custom(cfg)
	if err != nil {
		return nil, "", nil, invalid("custom_scheme: %v", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, custom); err != nil {
		return nil, "", nil, invalid("custom_scheme: %v", err)
	}
	return s, customSchemeName, buf.Bytes(), nil
}

// checkSecret refuses a secret the scheme cannot use. The message never
// holds the secret.
func checkSecret(s *signature.Scheme, secret string) error {
	if len(secret) > maxSecretLen {
		return invalid("secret is longer than %d bytes", maxSecretLen)
	}
	if err := signature.ValidateSecret(s, secret); err != nil {
		return invalid("secret is not valid for scheme %q: %v", s.Name(), err)
	}
	return nil
}

// newSecret generates a secret for the scheme.
func newSecret(s *signature.Scheme) (string, error) {
	secret, err := signature.GenerateSecret(s)
	if err != nil {
		return "", fmt.Errorf("generate secret for scheme %s: %w", s.Name(), err)
	}
	return secret, nil
}

// customFields are the JSON names of signature.CustomConfig's fields.
var customFields = func() map[string]bool {
	m := make(map[string]bool)
	t := reflect.TypeFor[signature.CustomConfig]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		m[name] = true
	}
	return m
}()

// checkCustomFields refuses a custom_scheme object with a member
// signature.CustomConfig does not have (its own decoding ignores them), so
// that a misspelt field is not silently dropped.
func checkCustomFields(custom json.RawMessage) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(custom, &members); err != nil {
		return invalid("custom_scheme must be a JSON object: %v", err)
	}
	for k := range members {
		if !customFields[k] {
			return invalid("custom_scheme: unknown field %q", k)
		}
	}
	return nil
}
