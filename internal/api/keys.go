package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// keyJSON is an API key in responses. Key, the key itself, is set only in
// the response to its creation.
type keyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Key        string     `json:"key,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func toKeyJSON(k *store.APIKey) keyJSON {
	return keyJSON{
		ID:         k.ID,
		Name:       k.Name,
		Prefix:     k.Prefix,
		CreatedAt:  utc(k.CreatedAt),
		LastUsedAt: utcPtr(k.LastUsedAt),
		RevokedAt:  utcPtr(k.RevokedAt),
	}
}

// createKeyRequest is the body of POST /api/v1/keys.
type createKeyRequest struct {
	Name string `json:"name"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var req createKeyRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	k, key, err := NewAPIKey(req.Name, "", a.now())
	if err != nil {
		return invalid("%v", err)
	}
	if err := a.store.CreateAPIKey(r.Context(), k); err != nil {
		return storeError(err, "api key", k.ID)
	}
	out := toKeyJSON(k)
	out.Key = key
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := a.store.ListAPIKeys(r.Context())
	if err != nil {
		return fmt.Errorf("list api keys: %w", err)
	}
	out := list[keyJSON]{Data: make([]keyJSON, len(ks))}
	for i, k := range ks {
		out.Data[i] = toKeyJSON(k)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) revokeKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := a.store.RevokeAPIKey(r.Context(), id, a.now()); err != nil {
		return storeError(err, "api key", id)
	}
	a.keys.forget(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
