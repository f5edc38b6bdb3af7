package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// An APIKey is a key that may call the API. Its value is stored only as a
// hash.
type APIKey struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the key's first characters, to recognize it by.
	Prefix string `json:"prefix"`
	// Key is the key itself, set only in the answer that created it.
	Key string `json:"key,omitempty"`
	// Tenant is the only tenant the key sees; nil for every tenant.
	Tenant *string `json:"tenant"`
	// Scopes say what the key may do (docs/access.md); "admin" holds all.
	Scopes     []string        `json:"scopes"`
	CreatedAt  time.Time       `json:"created_at"`
	LastUsedAt *time.Time      `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time      `json:"revoked_at,omitempty"`
	Raw        json.RawMessage `json:"-"`
}

func (k *APIKey) setRaw(b json.RawMessage) { k.Raw = b }

// CreateAPIKey creates an API key with this name; the answer's Key is the
// only time the key is shown.
func (c *Client) CreateAPIKey(ctx context.Context, name string) (*APIKey, error) {
	in := struct {
		Name string `json:"name"`
	}{name}
	return call[APIKey](ctx, c, request{method: http.MethodPost, path: "/api/v1/keys"}, in)
}

// KeyParams are the settings of a new key (CreateScopedAPIKey) or tenant
// token (CreateTenantToken).
type KeyParams struct {
	// Name names a key; tokens have none.
	Name string
	// Tenant binds the credential to one tenant; nil: every tenant for a
	// key (or the caller's own tenant, if it has one). A token needs one
	// unless the caller has a tenant.
	Tenant *string
	// Scopes; empty means admin. A caller mints only scopes it holds.
	Scopes []string
	// TTL is a token's lifetime, in whole seconds, at most 24 h; 0: the
	// server's default, an hour. Keys do not expire.
	TTL time.Duration
}

// CreateScopedAPIKey creates an API key bound to p's tenant and scopes.
// A caller without the scopes, or bound to another tenant, gets
// ErrForbidden.
func (c *Client) CreateScopedAPIKey(ctx context.Context, p *KeyParams) (*APIKey, error) {
	in := struct {
		Name   string   `json:"name"`
		Tenant *string  `json:"tenant,omitempty"`
		Scopes []string `json:"scopes,omitempty"`
	}{p.Name, p.Tenant, p.Scopes}
	return call[APIKey](ctx, c, request{method: http.MethodPost, path: "/api/v1/keys"}, in)
}

// A TenantToken is a short-lived bearer token for one tenant: pass Token
// to New as the key.
type TenantToken struct {
	Token     string          `json:"token"`
	Tenant    string          `json:"tenant"`
	Scopes    []string        `json:"scopes"`
	ExpiresAt time.Time       `json:"expires_at"`
	Raw       json.RawMessage `json:"-"`
}

func (t *TenantToken) setRaw(b json.RawMessage) { t.Raw = b }

// CreateTenantToken mints a tenant token with p's tenant, scopes and TTL.
// It works until it expires, or until the caller's key is revoked.
func (c *Client) CreateTenantToken(ctx context.Context, p *KeyParams) (*TenantToken, error) {
	in := struct {
		Tenant     *string  `json:"tenant,omitempty"`
		Scopes     []string `json:"scopes,omitempty"`
		TTLSeconds int64    `json:"ttl_seconds,omitempty"`
	}{p.Tenant, p.Scopes, int64(p.TTL / time.Second)}
	return call[TenantToken](ctx, c, request{method: http.MethodPost, path: "/api/v1/tenant-tokens"}, in)
}

// ListAPIKeys returns every API key, revoked ones included, in one page.
func (c *Client) ListAPIKeys(ctx context.Context) (*Page[APIKey], error) {
	return list[APIKey](ctx, c, request{path: "/api/v1/keys"})
}

// RevokeAPIKey revokes the key; it stops working at once on this server
// and within seconds on others sharing its database.
func (c *Client) RevokeAPIKey(ctx context.Context, id string) error {
	_, err := c.send(ctx, request{method: http.MethodDelete, path: idPath("/api/v1/keys", id, ""), retry: true})
	return err
}

// A PortalLink is a short-lived signed path to the dashboard through which
// one tenant manages only its own endpoints.
type PortalLink struct {
	// Path is relative to the service's root, such as /ui/portal/<token>.
	Path      string          `json:"path"`
	Tenant    string          `json:"tenant"`
	ExpiresAt time.Time       `json:"expires_at"`
	Raw       json.RawMessage `json:"-"`
}

func (p *PortalLink) setRaw(b json.RawMessage) { p.Raw = b }

// CreatePortalLink mints a portal link for tenant that works for ttl
// (whole seconds; 0: the server's default, 15 minutes). A service without
// the dashboard answers ErrNotFound.
func (c *Client) CreatePortalLink(ctx context.Context, tenant string, ttl time.Duration) (*PortalLink, error) {
	in := struct {
		Tenant     string `json:"tenant"`
		TTLSeconds int64  `json:"ttl_seconds,omitempty"`
	}{tenant, int64(ttl / time.Second)}
	return call[PortalLink](ctx, c, request{method: http.MethodPost, path: "/api/v1/portal-links"}, in)
}

// OpenAPI returns the service's OpenAPI 3.1 description of this API, in
// YAML (GET /api/v1/openapi.yaml, which needs no API key).
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.send(ctx, request{method: http.MethodGet, path: "/api/v1/openapi.yaml", retry: true})
}
