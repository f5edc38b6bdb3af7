package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits on form fields; the same as the API's.
const (
	maxURLLen         = 2048
	maxTenantLen      = 128
	maxDescriptionLen = 1024
	maxEventTypeLen   = 256
	maxEventTypes     = 100
	maxSecretLen      = 1024
	maxRateLimit      = 10000
	urlCheckTimeout   = 5 * time.Second
	customSchemeName  = "custom"
	defaultSchemeName = "standard"
)

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

// parseEventTypes splits an event type filter typed as a list separated by
// commas or white space, checks each entry and drops duplicates.
func parseEventTypes(s string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(fields) > maxEventTypes {
		return nil, fmt.Errorf("event types: more than %d entries", maxEventTypes)
	}
	var out []string
	seen := make(map[string]bool, len(fields))
	for _, t := range fields {
		if len(t) > maxEventTypeLen {
			return nil, fmt.Errorf("event type %q is longer than %d bytes", t, maxEventTypeLen)
		}
		if !utf8.ValidString(t) || strings.ContainsFunc(t, unicode.IsControl) {
			return nil, fmt.Errorf("event type %q must be UTF-8 without control characters", t)
		}
		if star := strings.IndexByte(t, '*'); star >= 0 && t != "*" && !(star == len(t)-1 && strings.HasSuffix(t, ".*") && len(t) > 2) {
			return nil, fmt.Errorf(`event type %q: '*' is allowed only as "*" or at the end after a dot, as in "invoice.*"`, t)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// checkURL refuses a URL that is not absolute http(s), carries
// credentials, or whose host is in a private network unless those are
// allowed.
func (u *UI) checkURL(ctx context.Context, raw string) error {
	if raw == "" {
		return errors.New("URL is required")
	}
	if len(raw) > maxURLLen {
		return fmt.Errorf("URL is longer than %d bytes", maxURLLen)
	}
	p, err := url.Parse(raw)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return errors.New("URL must be an absolute http:// or https:// URL")
	}
	if p.User != nil {
		return errors.New("URL must not contain a user name or password")
	}
	ctx, cancel := context.WithTimeout(ctx, urlCheckTimeout)
	defer cancel()
	if err := delivery.CheckURL(ctx, raw, u.allowPrivate); err != nil {
		if errors.Is(err, delivery.ErrForbiddenAddress) {
			return errors.New("URL resolves to a private, loopback or otherwise forbidden address; this server allows only public ones")
		}
		return fmt.Errorf("URL cannot be used: %v", err)
	}
	return nil
}

// resolveScheme returns the signature scheme name (default "standard") and,
// for "custom", the JSON custom describe, with the name and compacted
// custom JSON to store.
func resolveScheme(name, custom string) (*signature.Scheme, string, []byte, error) {
	custom = strings.TrimSpace(custom)
	if name == "" {
		name = defaultSchemeName
	}
	if name != customSchemeName {
		s, err := signature.Lookup(name)
		if err != nil {
			return nil, "", nil, fmt.Errorf("unknown signature scheme %q", name)
		}
		return s, s.Name(), nil, nil
	}
	if custom == "" {
		return nil, "", nil, errors.New(`scheme "custom" needs its configuration as JSON`)
	}
	var cfg signature.CustomConfig
	if err := json.Unmarshal([]byte(custom), &cfg); err != nil {
		return nil, "", nil, fmt.Errorf("custom scheme: %v", err)
	}
	s, err := signature.Custom(cfg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("custom scheme: %v", err)
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("custom scheme: %v", err)
	}
	return s, customSchemeName, b, nil
}

// checkSecret refuses a secret the scheme cannot use. The message never
// holds the secret.
func checkSecret(s *signature.Scheme, secret string) error {
	if len(secret) > maxSecretLen {
		return fmt.Errorf("secret is longer than %d bytes", maxSecretLen)
	}
	if err := signature.ValidateSecret(s, secret); err != nil {
		return fmt.Errorf("secret is not valid for scheme %q: %v", s.Name(), err)
	}
	return nil
}

// checkRateLimit refuses a negative, infinite or absurd rate limit.
func checkRateLimit(r float64) error {
	if math.IsNaN(r) || math.IsInf(r, 0) || r < 0 || r > maxRateLimit {
		return fmt.Errorf("rate limit must be from 0 (none) to %d deliveries per second", maxRateLimit)
	}
	return nil
}
