package inbound

import (
	"net/http"
	"strings"
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

// credential reports whether the header called name (canonical) may carry
// a credential: such headers are neither forwarded nor kept.
func credential(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	for _, s := range []string{"token", "secret", "password", "passwd", "api-key", "apikey", "session"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
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
func forwardHeaders(h http.Header, source, scheme string) map[string]string {
	hop := connectionTokens(h)
	out := make(map[string]string, min(len(h), maxHeaders)+2)
	for k, vs := range h {
		if len(out) >= maxHeaders {
			break
		}
		if dropped[k] || hop[k] || credential(k) || strings.HasPrefix(k, "X-Hookrelay-") || strings.HasPrefix(k, "Proxy-") {
			continue
		}
		out[k] = strings.Join(vs, ", ")
	}
	out[HeaderSource] = source
	out[HeaderVerified] = scheme
	return out
}

// inspectHeaders returns the headers of a rejected request as they are
// kept for inspection: credential values redacted, long values cut.
func inspectHeaders(h http.Header) map[string]string {
	out := make(map[string]string, min(len(h), maxHeaders))
	for k, vs := range h {
		if len(out) >= maxHeaders {
			break
		}
		v := strings.Join(vs, ", ")
		switch {
		case credential(k):
			v = "[redacted]"
		case len(v) > maxInspectedValue:
			v = v[:maxInspectedValue] + "…"
		}
		out[k] = v
	}
	return out
}
