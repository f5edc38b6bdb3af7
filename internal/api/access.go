package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/authlimit"
	"github.com/hookrelay/hookrelay/internal/store"
)

// accessError turns a refusal of internal/access into a 403 naming the
// missing scope, if that is the reason.
func accessError(err error) error {
	if d, ok := errors.AsType[*access.Denied](err); ok {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Message: d.Message, Scope: d.Scope}
	}
	return err
}

// tenantOf returns the tenant a resource created by the request's caller
// belongs to, given the tenant its body names (nil: none), or a 403.
func tenantOf(r *http.Request, requested *string) (string, error) {
	t, err := principalOf(r).TenantOf(requested)
	return t, accessError(err)
}

type auditKey struct{}

// auditNote is what a handler adds to its route's audit log entry: the
// tenant the change concerns and its target, when the path's {id} and the
// caller's tenant do not say it.
type auditNote struct {
	tenant *string
	target string
	detail string
}

// noteTenant records that the request changes something of tenant.
func noteTenant(r *http.Request, tenant string) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.tenant = &tenant
	}
}

// noteNoTenant records that the request changes something of no tenant
// (a key of every tenant, an inbound source).
func noteNoTenant(r *http.Request) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.tenant = nil
	}
}

// noteTarget records the id a request created or changed, and a detail
// (never a secret).
func noteTarget(r *http.Request, id, detail string) {
	if n, ok := r.Context().Value(auditKey{}).(*auditNote); ok {
		n.target, n.detail = id, detail
	}
}

// audit appends the entry of a successful change. The change is done: a
// failure to record it is logged, not answered.
func (a *API) audit(r *http.Request, p *access.Principal, action string, n *auditNote) {
	kind := "key"
	if p.Token {
		kind = "token"
	}
	e := &store.AuditEntry{
		ID: store.NewID("aud"), At: a.now(), ActorKind: kind, ActorID: p.KeyID, Tenant: n.tenant,
		Action: action, Target: n.target, RemoteAddr: authlimit.Addr(r), Detail: n.detail,
	}
	// The request's context may be done once the response is written.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if err := a.store.AddAudit(ctx, e); err != nil {
		a.log.ErrorContext(ctx, "api: record audit entry", "action", action, "target", n.target, "error", err)
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Tenant tokens.

// DefaultTenantTokenTTL is how long a tenant token works when the request
// does not say.
const DefaultTenantTokenTTL = time.Hour

type tenantTokenRequest struct {
	Tenant     *string  `json:"tenant"`
	Scopes     []string `json:"scopes"`
	TTLSeconds int64    `json:"ttl_seconds"`
}

type tenantTokenJSON struct {
	Token     string    `json:"token"`
	Tenant    string    `json:"tenant"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createTenantToken answers POST /api/v1/tenant-tokens: a stateless bearer
// token that works as a key of one tenant with the given scopes until it
// expires, or until the key that minted it is revoked.
func (a *API) createTenantToken(w http.ResponseWriter, r *http.Request) error {
	if a.tokens == nil {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "tenant tokens are not enabled on this server"}
	}
	var req tenantTokenRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	p := principalOf(r)
	if req.Tenant == nil {
		if p.Tenant == nil {
			return invalid("tenant is required")
		}
		req.Tenant = p.Tenant
	}
	if err := checkOwnTenant(*req.Tenant); err != nil {
		return err
	}
	scopes, err := access.Parse(req.Scopes)
	if err != nil {
		return invalid("scopes: %v", err)
	}
	if req.TTLSeconds < 0 || req.TTLSeconds > int64(access.MaxTokenTTL/time.Second) {
		return invalid("ttl_seconds must be between 1 and %d (24 hours)", int64(access.MaxTokenTTL/time.Second))
	}
	ttl := DefaultTenantTokenTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	if err := p.CanMint(req.Tenant, scopes); err != nil {
		return accessError(err)
	}
	expires := a.now().Add(ttl).Truncate(time.Second)
	if p.Token && p.Expires.Before(expires) {
		// A token mints nothing that outlives it.
		expires = p.Expires
	}
	token, err := a.tokens.Mint(access.TokenClaims{KeyID: p.KeyID, Tenant: *req.Tenant, Scopes: scopes, Expires: expires})
	if err != nil {
		return err
	}
	noteTenant(r, *req.Tenant)
	noteTarget(r, p.KeyID, fmt.Sprintf("scopes %v, expires %s", access.Names(scopes), utc(expires).Format(time.RFC3339)))
	writeJSON(w, http.StatusCreated, tenantTokenJSON{Token: token, Tenant: *req.Tenant, Scopes: access.Names(scopes), ExpiresAt: utc(expires)})
	return nil
}

// Audit log.

type auditJSON struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ActorKind  string    `json:"actor_kind"`
	ActorID    string    `json:"actor_id"`
	Tenant     *string   `json:"tenant"`
	Action     string    `json:"action"`
	Target     string    `json:"target,omitempty"`
	RemoteAddr string    `json:"remote_addr"`
	Detail     string    `json:"detail,omitempty"`
}

// listAudit answers GET /api/v1/audit: the changes made, newest first; a
// key bound to a tenant sees only its tenant's.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request) error {
	page, tenant, ok, err := pageTenantParams(r)
	if err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusOK, list[auditJSON]{Data: []auditJSON{}})
		return nil
	}
	es, next, err := a.store.ListAudit(r.Context(), store.AuditFilter{Tenant: tenant, Page: page})
	if err != nil {
		return storeError(err, "cursor", page.Cursor)
	}
	out := list[auditJSON]{Data: make([]auditJSON, len(es)), NextCursor: next}
	for i, e := range es {
		out.Data[i] = auditJSON{ID: e.ID, At: utc(e.At), ActorKind: e.ActorKind, ActorID: e.ActorID, Tenant: e.Tenant,
			Action: e.Action, Target: e.Target, RemoteAddr: e.RemoteAddr, Detail: e.Detail}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
