package rules

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Limits of an endpoint's delivery settings.
const (
	MaxHeaders         = 20
	MaxHeaderNameLen   = 256
	MaxHeaderValueLen  = 4 << 10
	MaxHeadersTotalLen = 16 << 10
	MaxAuthFieldLen    = 1024
	MaxBearerTokenLen  = 4 << 10
	MaxScopes          = 20
	MaxCertPEMLen      = 64 << 10
	MaxKeyPEMLen       = 16 << 10
	MaxCAPEMLen        = 256 << 10
	// MinEndpointTimeout is the shortest request timeout an endpoint may
	// ask for.
	MinEndpointTimeout = time.Second
	// MaxRetries is how many entries an endpoint's retry schedule may
	// have at most (so as many retries).
	MaxRetries = 30
	// DefaultMaxEndpointTimeout and DefaultMaxRetrySchedule are the
	// defaults of Config.MaxEndpointTimeout and Config.MaxRetrySchedule.
	DefaultMaxEndpointTimeout = 60 * time.Second
	DefaultMaxRetrySchedule   = 72 * time.Hour
)

// refusedHeaders are the names an endpoint's static headers may not set:
// those that describe the connection or the body (the HTTP client writes
// them), hop-by-hop headers, and the proxy's. The scheme's own signature,
// id and timestamp headers are refused as well (see checkHeaders), and
// X-Hookrelay-* (hookrelay's own).
var refusedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true,
	"Te": true, "Trailer": true, "Upgrade": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Proxy-Authenticate": true, "Expect": true, "Content-Type": true, "Content-Encoding": true,
	"Accept-Encoding": true,
	// Standard Webhooks receivers also read the svix-* spellings.
	"Svix-Id": true, "Svix-Timestamp": true, "Svix-Signature": true,
}

// checkHeaders refuses static headers that would break delivery or
// signing with scheme s (nil: unsigned), or are too many or too large;
// withAuth refuses Authorization, which the receiver authentication
// writes. Messages name the header, never its value.
func checkHeaders(h map[string]string, s *signature.Scheme, withAuth bool) error {
	var c collector
	if len(h) > MaxHeaders {
		return fieldError("headers", "has %d entries, more than %d", len(h), MaxHeaders)
	}
	var own map[string]bool
	if s != nil {
		own = make(map[string]bool)
		for _, n := range s.Headers() {
			own[http.CanonicalHeaderKey(n)] = true
		}
	}
	total := 0
	seen := make(map[string]bool, len(h))
	for _, name := range slices.Sorted(maps.Keys(h)) {
		v := h[name]
		field := "headers[" + name + "]"
		total += len(name) + len(v)
		canon := http.CanonicalHeaderKey(name)
		switch {
		case name == "" || len(name) > MaxHeaderNameLen || !validToken(name):
			c.add(&FieldError{Field: "headers", Reason: "has a name that is not an HTTP header name of at most 256 bytes"})
			continue
		case seen[canon]:
			c.add(fieldError(field, "is given twice (header names are not case-sensitive)"))
		case refusedHeaders[canon]:
			c.add(fieldError(field, "is refused: the HTTP client or the delivery sets it"))
		case strings.HasPrefix(canon, "X-Hookrelay-"):
			c.add(fieldError(field, "is refused: X-Hookrelay-* headers are hookrelay's own"))
		case own[canon]:
			c.add(fieldError(field, "is refused: the signature scheme %q sets it", s.Name()))
		case canon == "Authorization" && withAuth:
			c.add(fieldError(field, "is refused: the endpoint's auth sets it"))
		case len(v) > MaxHeaderValueLen:
			c.add(fieldError(field, "has a value longer than %d bytes", MaxHeaderValueLen))
		case !validHeaderValue(v):
			c.add(fieldError(field, "has a value with a control character"))
		case isMasked(v):
			c.add(fieldError(field, "is a masked value as the API shows it: send the value itself"))
		}
		seen[canon] = true
	}
	if total > MaxHeadersTotalLen {
		c.add(fieldError("headers", "take %d bytes, more than %d", total, MaxHeadersTotalLen))
	}
	return c.err()
}

// validToken reports whether s is an RFC 9110 token (a header name).
func validToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// validHeaderValue refuses control characters but tab, and DEL.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// checkAuthForm checks a receiver authentication but its token URL's
// address (checkAuthURL does that, with DNS). nil and a zero Type are
// none.
func checkAuthForm(a *store.ReceiverAuth) error {
	if a == nil || a.Type == "" {
		return nil
	}
	var c collector
	text := func(field, v string, max int, required bool) {
		switch {
		case v == "" && required:
			c.add(fieldError(field, "is required for auth type %q", a.Type))
		case len(v) > max:
			c.add(fieldError(field, "is longer than %d bytes", max))
		case !validHeaderValue(v):
			c.add(fieldError(field, "contains a control character"))
		case isMasked(v):
			c.add(fieldError(field, "is a masked value as the API shows it: send the value itself"))
		}
	}
	unused := func(fields map[string]string) {
		for f, v := range fields {
			if v != "" {
				c.add(fieldError("auth."+f, "is not used by auth type %q", a.Type))
			}
		}
	}
	switch a.Type {
	case store.AuthBasic:
		text("auth.username", a.Username, MaxAuthFieldLen, true)
		text("auth.password", a.Password, MaxAuthFieldLen, true)
		if strings.Contains(a.Username, ":") {
			c.add(fieldError("auth.username", "must not contain ':' (basic authentication)"))
		}
		unused(map[string]string{"token": a.Token, "token_url": a.TokenURL, "client_id": a.ClientID,
			"client_secret": a.ClientSecret, "audience": a.Audience})
	case store.AuthBearer:
		text("auth.token", a.Token, MaxBearerTokenLen, true)
		if strings.ContainsAny(a.Token, " \t") {
			c.add(fieldError("auth.token", "must not contain spaces"))
		}
		unused(map[string]string{"username": a.Username, "password": a.Password, "token_url": a.TokenURL,
			"client_id": a.ClientID, "client_secret": a.ClientSecret, "audience": a.Audience})
	case store.AuthOAuth2:
		text("auth.token_url", a.TokenURL, MaxURLLen, true)
		text("auth.client_id", a.ClientID, MaxAuthFieldLen, true)
		text("auth.client_secret", a.ClientSecret, MaxAuthFieldLen, true)
		text("auth.audience", a.Audience, MaxAuthFieldLen, false)
		if len(a.Scopes) > MaxScopes {
			c.add(fieldError("auth.scopes", "has more than %d entries", MaxScopes))
		}
		for _, s := range a.Scopes {
			if s == "" || len(s) > MaxNameLen || !validToken(strings.Map(scopeRune, s)) {
				c.add(fieldError("auth.scopes", "has an entry that is empty, longer than %d bytes or not a scope token", MaxNameLen))
				break
			}
		}
		unused(map[string]string{"username": a.Username, "password": a.Password, "token": a.Token})
	default:
		c.add(fieldError("auth.type", "%q is not one of basic, bearer, oauth2 (or empty for none)", a.Type))
	}
	if len(c.errs) > 1 {
		slices.SortFunc(c.errs, func(x, y *FieldError) int { return strings.Compare(x.Field, y.Field) })
	}
	return c.err()
}

// scopeRune maps the characters RFC 6749 allows in a scope but a token
// does not to one it does, for validToken.
func scopeRune(r rune) rune {
	if strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
		return 'x'
	}
	return r
}

// checkAuthURL checks an OAuth2 token URL as an endpoint URL is checked:
// https (or http), and through the SSRF guard.
func (r *Rules) checkAuthURL(ctx context.Context, a *store.ReceiverAuth) error {
	if a == nil || a.Type != store.AuthOAuth2 || a.TokenURL == "" {
		return nil
	}
	return r.CheckURL(ctx, "auth.token_url", a.TokenURL)
}

// checkClientTLS checks a client certificate and CA bundle: a
// certificate and key PEM that make a pair, the certificate valid at now,
// or neither; and a CA bundle of at least one certificate, or none. nil
// and an empty one are none; url is the endpoint's, which must be https.
func checkClientTLS(t *store.ClientTLS, rawURL string, now time.Time) error {
	if t == nil || t.Empty() {
		return nil
	}
	var c collector
	switch {
	case t.CertPEM == "" && t.KeyPEM == "":
		// A CA bundle alone: the server is verified, no client certificate.
	case t.CertPEM == "":
		c.add(fieldError("client_tls.cert_pem", "is required with a key"))
	case len(t.CertPEM) > MaxCertPEMLen:
		c.add(fieldError("client_tls.cert_pem", "is longer than %d bytes", MaxCertPEMLen))
	}
	switch {
	case t.KeyPEM == "" && t.CertPEM != "":
		c.add(fieldError("client_tls.key_pem", "is required with a certificate"))
	case isMasked(t.KeyPEM):
		c.add(fieldError("client_tls.key_pem", "is a masked value as the API shows it: send the key itself"))
	case len(t.KeyPEM) > MaxKeyPEMLen:
		c.add(fieldError("client_tls.key_pem", "is longer than %d bytes", MaxKeyPEMLen))
	}
	if len(t.CAPEM) > MaxCAPEMLen {
		c.add(fieldError("client_tls.ca_pem", "is longer than %d bytes", MaxCAPEMLen))
	}
	if err := c.err(); err != nil {
		return err
	}
	if u, err := url.Parse(rawURL); err == nil && u.Scheme != "https" {
		c.add(fieldError("client_tls", "needs an https endpoint URL"))
	}
	if t.CertPEM == "" {
		// No certificate to check.
	} else if b, _ := pem.Decode([]byte(t.CertPEM)); b == nil || b.Type != "CERTIFICATE" {
		c.add(fieldError("client_tls.cert_pem", "is not a PEM CERTIFICATE block"))
	} else if cert, err := x509.ParseCertificate(b.Bytes); err != nil {
		c.add(fieldError("client_tls.cert_pem", "does not parse: %v", err))
	} else if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
		c.add(fieldError("client_tls.cert_pem", "is valid from %s to %s, not now", cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339)))
	} else if _, err := tls.X509KeyPair([]byte(t.CertPEM), []byte(t.KeyPEM)); err != nil {
		// The error of X509KeyPair never holds the key itself.
		c.add(fieldError("client_tls.key_pem", "is not the private key of the certificate, or not a PEM private key"))
	}
	if t.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(t.CAPEM)) {
		c.add(fieldError("client_tls.ca_pem", "holds no PEM certificate"))
	}
	return c.err()
}

// checkPolicy checks an endpoint's request timeout (0 for the server's)
// and retry schedule (nil for the server's) against the bounds of the
// server.
func (r *Rules) checkPolicy(timeout *time.Duration, sched *[]time.Duration) error {
	var c collector
	if timeout != nil && *timeout != 0 && (*timeout < MinEndpointTimeout || *timeout > r.cfg.MaxEndpointTimeout) {
		c.add(fieldError("timeout_seconds", "must be 0 (the server's) or from %d to %d, the most this server allows",
			int64(MinEndpointTimeout/time.Second), int64(r.cfg.MaxEndpointTimeout/time.Second)))
	}
	if sched != nil && *sched != nil {
		s := *sched
		var total time.Duration
		for _, d := range s {
			if d < 0 {
				c.add(fieldError("retry_schedule_seconds", "has a negative delay"))
				return c.err()
			}
			total += min(d, r.cfg.MaxRetrySchedule+1)
		}
		switch {
		case len(s) > MaxRetries:
			c.add(fieldError("retry_schedule_seconds", "has %d entries, more than %d", len(s), MaxRetries))
		case total > r.cfg.MaxRetrySchedule:
			c.add(fieldError("retry_schedule_seconds", "spans %d seconds, more than the %d this server allows",
				int64(total/time.Second), int64(r.cfg.MaxRetrySchedule/time.Second)))
		}
	}
	return c.err()
}

// MaxEndpointTimeout is the longest request timeout an endpoint may ask
// for on this server.
func (r *Rules) MaxEndpointTimeout() time.Duration { return r.cfg.MaxEndpointTimeout }

// MaskSecret shows a secret value as a person may see it once stored:
// "****" and, for a value of 12 bytes or more, its last 4.
func MaskSecret(v string) string {
	if v == "" {
		return ""
	}
	if len(v) >= 12 {
		return "****" + v[len(v)-4:]
	}
	return "****"
}

// isMasked reports whether v is what MaskSecret shows: sent back as is
// (a form or a script that read the endpoint), it would replace the
// secret with its mask.
func isMasked(v string) bool { return strings.HasPrefix(v, "****") }

// MaskedHeaders returns h with every value masked (MaskSecret).
func MaskedHeaders(h map[string]string) map[string]string {
	if len(h) == 0 {
		return nil
	}
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = MaskSecret(v)
	}
	return out
}

// MaskedAuth returns a copy of a with its password, token and client
// secret masked; nil for nil.
func MaskedAuth(a *store.ReceiverAuth) *store.ReceiverAuth {
	if a == nil {
		return nil
	}
	m := *a
	m.Password, m.Token, m.ClientSecret = MaskSecret(a.Password), MaskSecret(a.Token), MaskSecret(a.ClientSecret)
	return &m
}

// ParseHeaderLines reads static headers typed one a line as
// "Name: value", as forms take them; blank lines are skipped.
func ParseHeaderLines(s string) (map[string]string, error) {
	out := map[string]string{}
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fieldError("headers", "has a line without ':' (one \"Name: value\" a line)")
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// ParseSchedule reads a retry schedule typed as durations separated by
// commas or spaces ("10s, 1m, 10m"): "" is the server's (nil), "none" no
// retries.
func ParseSchedule(s string) ([]time.Duration, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "":
		return nil, nil
	case "none":
		return []time.Duration{}, nil
	}
	var out []time.Duration
	for _, p := range SplitList(s) {
		d, err := time.ParseDuration(p)
		if err != nil {
			return nil, fieldError("retry_schedule_seconds", "%q is not a duration such as 30s or 5m", p)
		}
		out = append(out, d)
	}
	return out, nil
}

// FormatSchedule is the inverse of ParseSchedule.
func FormatSchedule(s []time.Duration) string {
	if s == nil {
		return ""
	}
	if len(s) == 0 {
		return "none"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = d.String()
	}
	return strings.Join(parts, ", ")
}
