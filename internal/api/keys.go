package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

// keyJSON is an API key in responses. Key, the key itself, is set only in
// the response to its creation. Tenant is null for a key of every tenant.
type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key,omitempty"`
	Tenant     *string    `json:"tenant"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toKeyJSON(k *store.APIKey) keyJSON {
	return keyJSON{
		ID:         k.ID,
		Name:       k.Name,
		Prefix:     k.Prefix,
		Tenant:     k.Tenant,
		Scopes:     store.KeyScopes(k.Scopes),
		CreatedAt:  utc(k.CreatedAt),
		LastUsedAt: utcPtr(k.LastUsedAt),
		RevokedAt:  utcPtr(k.RevokedAt),
	}
}

// createKeyRequest is the body of POST /api/v1/keys. Tenant absent: every
// tenant, or the caller's own if it has one. Scopes empty: admin.
type createKeyRequest struct {
	Name   string   `json:"name"`
	Tenant *string  `json:"tenant"`
	Scopes []string `json:"scopes"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	p := principalOf(r)
	if p.Token {
		return &Error{Status: http.StatusForbidden, Code: CodeForbidden,
			Message: "a tenant token cannot mint API keys, which would outlive it; mint tenant tokens instead"}
	}
	scopes, err := access.Parse(req.Scopes)
	if err != nil {
		return invalid("scopes: %v", err)
	}
	if req.Tenant == nil {
		req.Tenant = p.Tenant
	}
	if req.Tenant != nil {
		if err := checkOwnTenant(*req.Tenant); err != nil {
			return err
		}
	}
	if err := p.CanMint(req.Tenant, scopes); err != nil {
		return accessError(err)
	}
	k, key, err := NewAPIKey(req.Name, "", a.now())
	if err != nil {
		return invalid("%v", err)
	}
	k.Tenant, k.Scopes = req.Tenant, access.Names(scopes)
	if err := a.store.CreateAPIKey(r.Context(), k); err != nil {
		return storeError(err, "api key", k.ID)
	}
	noteKey(r, k)
	out := toKeyJSON(k)
	out.Key = key
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// noteKey records a change of key k in the audit entry.
func noteKey(r *http.Request, k *store.APIKey) {
	if k.Tenant != nil {
		noteTenant(r, *k.Tenant)
	} else {
		noteNoTenant(r)
	}
	noteTarget(r, k.ID, fmt.Sprintf("%q scopes %v", k.Name, store.KeyScopes(k.Scopes)))
}

// listKeys lists the keys the caller can see: those of its tenant, or
// every key for a caller of every tenant.
func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := a.store.ListAPIKeys(r.Context())
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	p := principalOf(r)
	out := list[keyJSON]{Data: make([]keyJSON, 0, len(ks))}
	for _, k := range ks {
		if p.SeesAny(k.Tenant) {
			out.Data = append(out.Data, toKeyJSON(k))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// revokeKey revokes a key the caller could have minted: the keys of
// another tenant are not found, those with scopes it lacks are refused.
func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	p := principalOf(r)
	k, err := a.store.GetAPIKey(r.Context(), id)
	if err == nil && !p.SeesAny(k.Tenant) {
		err = store.ErrNotFound
	}
	if err != nil {
		return storeError(err, "api key", id)
	}
	if err := p.CanMint(k.Tenant, principalOfKey(k).Scopes); err != nil {
		return accessError(err)
	}
	if err := a.store.RevokeAPIKey(r.Context(), id, a.now()); err != nil {
		return storeError(err, "api key", id)
	}
	a.keys.forget(id)
	noteKey(r, k)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
