package inbound

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hookrelay/hookrelay/internal/store"

	"github.com/hookrelay/hookrelay/signature"
)

// Headers the gateway sets on every event it accepts.
const (
	// HeaderSource names the source that received the request.
	HeaderSource = "X-Hookrelay-Source"
	// HeaderVerified names the scheme whose signature the request carried
	// and that the gateway checked.
	HeaderVerified = "X-Hookrelay-Verified"
)

// Limits on the headers kept.
const (
	maxHeaders        = 100
	maxInspectedValue = 1 << 10
)

// dropped are headers never forwarded: they describe the hop, the body
// (which the delivery writes itself) or are the gateway's own.
var dropped = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Upgrade": true, "Proxy-Connection": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
	"Host": true, "Content-Length": true, "Content-Type": true, "Expect": true, "Accept-Encoding": true,
	"Content-Encoding": true,
}

// credentialWords are the parts of header names that mark a header as a
// possible credential: Authorization, X-Auth-Key, Authentication,
// X-Access-Key, Ocp-Apim-Subscription-Key, X-Gitlab-Token, Cookie,
// X-Session-Id, and signatures made with some other scheme's secret
// (Stripe-Signature at a GitHub source, X-Shopify-Hmac-Sha256). The match
// is on any part of the lowercased name, so that vendors' spellings
// nobody listed are caught too.
var credentialWords = []string{
	"auth", "key", "token", "secret", "password", "passwd", "pwd", "credential",
	"cookie", "session", "signature", "hmac", "jwt",
}

// notCredentials are headers whose names contain a credential word but
// which carry no secret, and are forwarded and kept as they are.
var notCredentials = map[string]bool{
	"Idempotency-Key": true,
}

// credential reports whether the header called name (canonical) may carry
// a credential. Such headers are neither forwarded nor stored with an
// accepted event, and are redacted in stored rejections, unless own says
// they belong to the source's scheme (see ownHeaders).
func credential(name string, own map[string]bool) bool {
	if own[name] || notCredentials[name] {
		return false
	}
	n := strings.ToLower(name)
	for _, w := range credentialWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// ownHeaders returns the canonical names of the headers that scheme s
// signs and reads: its signature, timestamp and ID headers, which a
// destination needs to verify the request again with the sender's secret.
// They carry a MAC of this one request, not a reusable secret. nil s has
// none.
func ownHeaders(s *signature.Scheme) map[string]bool {
	if s == nil {
		return nil
	}
	own := make(map[string]bool)
	for _, h := range s.Headers() {
		own[http.CanonicalHeaderKey(h)] = true
	}
	if s.Name() == "standard" {
		// Standard Webhooks also reads the svix-* spellings.
		for _, h := range []string{"Svix-Id", "Svix-Timestamp", "Svix-Signature"} {
			own[h] = true
		}
	}
	return own
}

// connectionTokens returns the headers the Connection header names as
// hop-by-hop, canonicalized.
func connectionTokens(h http.Header) map[string]bool {
	var m map[string]bool
	for _, v := range h["Connection"] {
		for _, t := range strings.Split(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if m == nil {
					m = make(map[string]bool)
				}
				m[http.CanonicalHeaderKey(t)] = true
			}
		}
	}
	return m
}

// forwardHeaders returns the headers of an accepted request that its
// deliveries carry (see the package documentation), with HeaderSource and
// HeaderVerified.
func forwardHeaders(h http.Header, source string, scheme *signature.Scheme) map[string]string {
	hop := connectionTokens(h)
	own := ownHeaders(scheme)
	out := make(map[string]string, min(len(h), maxHeaders)+2)
	for k, vs := range h {
		if len(out) >= maxHeaders {
			break
		}
		if dropped[k] || hop[k] || credential(k, own) || strings.HasPrefix(k, "X-Hookrelay-") || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	out[HeaderSource] = source
	out[HeaderVerified] = scheme.Name()
	return out
}

// inspect returns the headers and the start of the body of a rejected
// request as they are kept for inspection: credential values redacted
// (but the scheme's own headers, see ownHeaders), long values cut, and
// headers (as JSON) and body together at most store.MaxRejectionBytes.
// The body keeps up to store.MaxRejectionBody bytes; the headers, in name
// order, fill what is left, and those that do not fit are left out.
func inspect(h http.Header, scheme *signature.Scheme, body []byte) (map[string]string, []byte) {
	own := ownHeaders(scheme)
	body = body[:min(len(body), store.MaxRejectionBody)]
	budget := store.MaxRejectionBytes - len(body) - len("{}")
	out := make(map[string]string, min(len(h), maxHeaders))
	for _, k := range slices.Sorted(maps.Keys(h)) {
		if len(out) >= maxHeaders {
			break
		}
		v := strings.Join(h[k], ", ")
		switch {
		case credential(k, own):
			v = "[redacted]"
		case len(v) > maxInspectedValue:
			v = v[:maxInspectedValue] + "…"
		}
		// What the pair adds to the JSON object: both strings as
		// encoded (escapes included), a colon and a comma.
		cost := jsonLen(k) + jsonLen(v) + 2
		if cost > budget {
			continue
		}
		budget -= cost
		out[k] = v
	}
	return out, body
}

// jsonLen returns the length of s encoded as a JSON string.
func jsonLen(s string) int {
	b, _ := json.Marshal(s)
	return len(b)
}
