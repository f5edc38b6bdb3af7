package delivery

import (
	"context"
	"encoding/base64"
	"net/http"

	"github.com/hookrelay/hookrelay/internal/oauthtoken"
	"github.com/hookrelay/hookrelay/internal/store"
)

// Redacted replaces, in the attempt log, the values of the headers that
// hold an endpoint's secrets: its static headers and Authorization.
const Redacted = "[redacted]"

// endpointHeader adds ep's static headers to h (under the signature and
// content headers, which win; rules refuses those names anyway).
func endpointHeader(h http.Header, ep *store.Endpoint) {
	for k, v := range ep.Headers {
		k = http.CanonicalHeaderKey(k)
		if _, set := h[k]; set || notForwarded[k] {
			continue
		}
		h[k] = []string{v}
	}
}

// redactedHeader is h flattened for the attempt log with the values of
// ep's static headers and of Authorization redacted.
func redactedHeader(h http.Header, ep *store.Endpoint) map[string]string {
	m := flattenHeader(h)
	for k := range ep.Headers {
		if _, ok := m[http.CanonicalHeaderKey(k)]; ok {
			m[http.CanonicalHeaderKey(k)] = Redacted
		}
	}
	if _, ok := m["Authorization"]; ok {
		m["Authorization"] = Redacted
	}
	return m
}

// credentials are the OAuth2 credentials of a.
func credentials(a *store.ReceiverAuth) oauthtoken.Credentials {
	return oauthtoken.Credentials{TokenURL: a.TokenURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret,
		Scopes: a.Scopes, Audience: a.Audience}
}

// authorize sets h's Authorization for ep's receiver authentication and
// returns the OAuth2 token it used ("" for none).
func (e *Engine) authorize(ctx context.Context, h http.Header, ep *store.Endpoint) (string, error) {
	a := ep.Auth
	if a == nil {
		return "", nil
	}
	switch a.Type {
	case store.AuthBasic:
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(a.Username+":"+a.Password)))
	case store.AuthBearer:
		h.Set("Authorization", "Bearer "+a.Token)
	case store.AuthOAuth2:
		tok, err := e.tokens.Token(ctx, credentials(a))
		if err != nil {
			return "", err
		}
		h.Set("Authorization", "Bearer "+tok)
		return tok, nil
	}
	return "", nil
}
