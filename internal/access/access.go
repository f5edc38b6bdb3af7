// Package access decides what a caller of the API may do: the scopes an
// API key or tenant token carries, the tenant it is bound to, and what it
// may mint. It is the one home of these rules; internal/api names the
// scope each route needs and asks a Principal, never checks a scope or a
// tenant itself.
//
// # Scopes
//
// A key carries a set of scopes (Scopes lists them). Admin grants every
// other scope. A key created without scopes is an admin, and so are the
// keys made before scopes existed.
//
// # Tenants
//
// A key with a tenant sees only that tenant: the resources of another
// tenant are absent for it (the API answers 404, exactly as for an unknown
// id), lists hold only its tenant's, and what it creates belongs to its
// tenant. A create body naming another tenant is refused (ErrOtherTenant,
// 403), one naming no tenant gets the key's. Inbound sources belong to no
// tenant and are out of a tenant key's reach whatever its scopes.
//
// # Minting
//
// A principal mints keys, tenant tokens and portal links only with a
// subset of its own reach (CanMint): the same tenant, or any if it has
// none, and scopes it holds itself.
package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// A Scope is one permission of a key.
type Scope string

// The scopes. Admin holds every other.
const (
	EndpointsRead   Scope = "endpoints:read"
	EndpointsWrite  Scope = "endpoints:write"
	SecretsRead     Scope = "secrets:read" // reveal an endpoint's secrets
	EventsWrite     Scope = "events:write"
	DeliveriesRead  Scope = "deliveries:read"
	DeliveriesWrite Scope = "deliveries:write" // retry, replay
	SourcesRead     Scope = "sources:read"
	SourcesWrite    Scope = "sources:write"
	KeysWrite       Scope = "keys:write"        // keys, tenant tokens, portal links
	EventTypesWrite Scope = "event_types:write" // the event catalog, which belongs to no tenant
	Admin           Scope = "admin"
)

// Scopes lists every scope, in the order documentation lists them.
var Scopes = []Scope{EndpointsRead, EndpointsWrite, SecretsRead, EventsWrite, DeliveriesRead,
	DeliveriesWrite, SourcesRead, SourcesWrite, KeysWrite, EventTypesWrite, Admin}

// PortalScopes is what a tenant portal session may do; minting a portal
// link needs them all.
var PortalScopes = []Scope{EndpointsRead, EndpointsWrite, SecretsRead, DeliveriesRead, DeliveriesWrite}

// Errors of the checks. Each comes wrapped in a *Denied, except
// ErrInvalidScope, which Parse returns wrapped.
var (
	// ErrMissingScope: the principal lacks the scope a call needs.
	ErrMissingScope = errors.New("missing scope")
	// ErrOtherTenant: a tenant principal named another tenant.
	ErrOtherTenant = errors.New("another tenant")
	// ErrNoTenantScope: a tenant principal asked for something that has
	// no tenant (inbound sources).
	ErrNoTenantScope = errors.New("not tenant-scoped")
	// ErrInvalidScope: a scope name is not one of Scopes.
	ErrInvalidScope = errors.New("invalid scope")
)

// Denied is a refusal: the reason (one of the errors above), the scope
// missing if that is the reason, and a message for people.
type Denied struct {
	Reason  error
	Scope   Scope // set for ErrMissingScope
	Message string
}

func (d *Denied) Error() string { return d.Message }

// Unwrap returns the reason.
func (d *Denied) Unwrap() error { return d.Reason }

// Parse checks scope names and returns them as a sorted set without
// repeats. No names means Admin. Errors wrap ErrInvalidScope.
func Parse(names []string) ([]Scope, error) {
	if len(names) == 0 {
		return []Scope{Admin}, nil
	}
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		s := Scope(strings.TrimSpace(n))
		if !slices.Contains(Scopes, s) {
			return nil, fmt.Errorf("%w %q: want one of %s", ErrInvalidScope, n, strings.Join(Names(Scopes), ", "))
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Names returns scopes as strings.
func Names(scopes []Scope) []string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = string(s)
	}
	return out
}

// Principal is who makes a call: an API key, or a tenant token minted by
// one.
type Principal struct {
	// KeyID is the API key's id; for a token, the id of the key that
	// minted it.
	KeyID string
	// Token is set when the principal is a tenant token.
	Token bool
	// Tenant is the tenant the principal is bound to; nil for every
	// tenant.
	Tenant *string
	// Scopes it holds.
	Scopes []Scope
	// Expires is when a token stops working; zero for a key.
	Expires time.Time
}

// KeyPrincipal returns what an API key with this id, tenant and scope
// names may do. Names this version does not know are dropped: they grant
// nothing.
func KeyPrincipal(id string, tenant *string, scopes []string) *Principal {
	p := &Principal{KeyID: id, Tenant: tenant}
	for _, n := range scopes {
		if s := Scope(n); slices.Contains(Scopes, s) {
			p.Scopes = append(p.Scopes, s)
		}
	}
	return p
}

// Has reports whether p holds scope s (Admin holds every scope).
func (p *Principal) Has(s Scope) bool {
	return slices.Contains(p.Scopes, Admin) || slices.Contains(p.Scopes, s)
}

// IsAdmin reports whether p holds Admin for every tenant.
func (p *Principal) IsAdmin() bool { return p.Tenant == nil && slices.Contains(p.Scopes, Admin) }

// Allow returns nil if p may make a call that needs scope s. Sources
// scopes and EventTypesWrite need a principal without a tenant. Refusals
// are *Denied.
func (p *Principal) Allow(s Scope) error {
	if p.Tenant != nil && (s == SourcesRead || s == SourcesWrite) {
		return &Denied{Reason: ErrNoTenantScope, Message: "inbound sources belong to no tenant: a key or token bound to a tenant cannot reach them"}
	}
	if p.Tenant != nil && s == EventTypesWrite {
		return &Denied{Reason: ErrNoTenantScope, Message: "the event catalog belongs to no tenant: a key or token bound to a tenant can read it, not change it"}
	}
	if !p.Has(s) {
		return &Denied{Reason: ErrMissingScope, Scope: s, Message: fmt.Sprintf("this key lacks the scope %q", s)}
	}
	return nil
}

// Within returns the tenant p is restricted to, nil for all: the within
// argument of internal/rules.
func (p *Principal) Within() *string { return p.Tenant }

// Sees reports whether a resource of tenant is within p's reach.
func (p *Principal) Sees(tenant string) bool { return p.Tenant == nil || *p.Tenant == tenant }

// SeesAny reports whether a resource of tenant t (nil: no tenant) is within p's reach.
func (p *Principal) SeesAny(t *string) bool {
	if p.Tenant == nil {
		return true
	}
	return t != nil && *t == *p.Tenant
}

// TenantOf returns the tenant a resource created by p with the requested
// tenant belongs to: p's own when the request names none (nil), the
// request's when p has no tenant. A request naming another tenant than
// p's is refused with ErrOtherTenant.
func (p *Principal) TenantOf(requested *string) (string, error) {
	switch {
	case p.Tenant == nil && requested == nil:
		return "", nil
	case p.Tenant == nil:
		return *requested, nil
	case requested == nil || *requested == *p.Tenant:
		return *p.Tenant, nil
	}
	return "", &Denied{Reason: ErrOtherTenant, Message: fmt.Sprintf("this key is bound to tenant %q and cannot act for tenant %q", *p.Tenant, *requested)}
}

// Filter returns the tenant filter of a list for p, given the one the
// request asked for (nil: any), and false when nothing can match (a
// tenant principal asked for another tenant).
func (p *Principal) Filter(requested *string) (*string, bool) {
	if p.Tenant == nil {
		return requested, true
	}
	if requested != nil && *requested != *p.Tenant {
		return nil, false
	}
	return p.Tenant, true
}

// CanMint returns nil if p may mint a credential bound to tenant (nil:
// every tenant) holding scopes: a subset of its own reach. Refusals are
// *Denied.
func (p *Principal) CanMint(tenant *string, scopes []Scope) error {
	if err := p.Allow(KeysWrite); err != nil {
		return err
	}
	if p.Tenant != nil {
		if tenant == nil {
			return &Denied{Reason: ErrOtherTenant, Message: fmt.Sprintf("this key is bound to tenant %q and can mint only for it", *p.Tenant)}
		}
		if *tenant != *p.Tenant {
			return &Denied{Reason: ErrOtherTenant, Message: fmt.Sprintf("this key is bound to tenant %q and cannot mint for tenant %q", *p.Tenant, *tenant)}
		}
	}
	for _, s := range scopes {
		if s == Admin && !slices.Contains(p.Scopes, Admin) {
			return &Denied{Reason: ErrMissingScope, Scope: Admin, Message: `this key lacks the scope "admin" and cannot mint it (no scopes means admin)`}
		}
		if !p.Has(s) {
			return &Denied{Reason: ErrMissingScope, Scope: s, Message: fmt.Sprintf("this key lacks the scope %q and cannot mint it", s)}
		}
	}
	return nil
}
