package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// endpointJSON is an endpoint in responses. Secret is set only in the
// response to its creation; Secrets carries only the secrets' times.
type endpointJSON struct {
	ID             string          `json:"id"`
	Tenant         string          `json:"tenant"`
	URL            string          `json:"url"`
	Description    string          `json:"description"`
	Scheme         string          `json:"scheme"`
	CustomScheme   json.RawMessage `json:"custom_scheme,omitempty"`
	EventTypes     []string        `json:"event_types"`
	Disabled       bool            `json:"disabled"`
	DisabledReason string          `json:"disabled_reason,omitempty"`
	FIFO           bool            `json:"fifo"`
	RateLimit      float64         `json:"rate_limit"`
	FailingSince   *time.Time      `json:"failing_since,omitempty"`
	Secrets        []secretJSON    `json:"secrets"`
	Secret         string          `json:"secret,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
}

// secretJSON describes one secret; Secret holds its value only in a reveal.
type secretJSON struct {
	Secret    string     `json:"secret,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

func secretsJSON(ss []store.Secret, reveal bool) []secretJSON {
	out := make([]secretJSON, len(ss))
	for i, s := range ss {
		out[i] = secretJSON{CreatedAt: utc(s.CreatedAt), ExpiresAt: utcPtr(s.ExpiresAt)}
		if reveal {
			out[i].Secret = s.Value
		}
	}
	return out
}

func toEndpointJSON(e *store.Endpoint) endpointJSON {
	types := e.EventTypes
	if types == nil {
		types = []string{}
	}
	return endpointJSON{
		ID:             e.ID,
		Tenant:         e.Tenant,
		URL:            e.URL,
		Description:    e.Description,
		Scheme:         e.Scheme,
		CustomScheme:   e.CustomScheme,
		EventTypes:     types,
		Disabled:       e.Disabled,
		DisabledReason: e.DisabledReason,
		FIFO:           e.FIFO,
		RateLimit:      e.RateLimit,
		FailingSince:   utcPtr(e.FailingSince),
		Secrets:        secretsJSON(e.Secrets, false),
		CreatedAt:      utc(e.CreatedAt),
		UpdatedAt:      utc(e.UpdatedAt),
	}
}

// createEndpointRequest is the body of POST /api/v1/endpoints.
type createEndpointRequest struct {
	URL          string          `json:"url"`
	Secret       string          `json:"secret"`
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme"`
	EventTypes   []string        `json:"event_types"`
	Tenant       string          `json:"tenant"`
	Description  string          `json:"description"`
	Disabled     bool            `json:"disabled"`
	FIFO         bool            `json:"fifo"`
	RateLimit    float64         `json:"rate_limit"`
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req createEndpointRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if err := a.checkURL(r.Context(), req.URL); err != nil {
		return err
	}
	scheme, schemeName, custom, err := resolveScheme(req.Scheme, req.CustomScheme)
	if err != nil {
		return err
	}
	if req.Secret != "" {
		if err := checkSecret(scheme, req.Secret); err != nil {
			return err
		}
	} else if req.Secret, err = newSecret(scheme); err != nil {
		return err
	}
	types, err := checkEventTypes(req.EventTypes)
	if err != nil {
		return invalid("%v", err)
	}
	if err := errors.Join(checkTenant(req.Tenant), checkOwnTenant(req.Tenant), checkText("description", req.Description, maxDescriptionLen), checkRateLimit(req.RateLimit)); err != nil {
		return invalid("%v", err)
	}
	now := a.now()
	e := &store.Endpoint{
		ID:           store.NewID("ep"),
		Tenant:       req.Tenant,
		URL:          req.URL,
		Description:  req.Description,
		Scheme:       schemeName,
		CustomScheme: custom,
		Secrets:      []store.Secret{{Value: req.Secret, CreatedAt: now}},
		EventTypes:   types,
		Disabled:     req.Disabled,
		FIFO:         req.FIFO,
		RateLimit:    req.RateLimit,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if e.Disabled {
		e.DisabledReason = "manual"
	}
	if err := a.store.CreateEndpoint(r.Context(), e); err != nil {
		return storeError(err, "endpoint", e.ID)
	}
	out := toEndpointJSON(e)
	out.Secret = req.Secret
	w.Header().Set("Location", "/api/v1/endpoints/"+e.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	tenant, err := tenantParam(r)
	if err != nil {
		return err
	}
	eps, next, err := a.store.ListEndpoints(r.Context(), store.EndpointFilter{Tenant: tenant, Page: page})
	if err != nil {
		return storeError(err, "cursor", page.Cursor)
	}
	out := list[endpointJSON]{Data: make([]endpointJSON, len(eps)), NextCursor: next}
	for i, e := range eps {
		out.Data[i] = toEndpointJSON(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// endpoint loads the endpoint named by the {id} path value.
func (a *API) endpoint(r *http.Request) (*store.Endpoint, error) {
	id := r.PathValue("id")
	e, err := a.store.GetEndpoint(r.Context(), id)
	if err != nil {
		return nil, storeError(err, "endpoint", id)
	}
	return e, nil
}

func (a *API) getEndpoint(w http.ResponseWriter, r *http.Request) error {
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
	return nil
}

// updateEndpointRequest is the body of PATCH /api/v1/endpoints/{id}: only
// the fields present change. Secret replaces every secret at once (use
// rotate-secret for an overlap); it is needed when a new scheme cannot use
// the current secret.
type updateEndpointRequest struct {
	URL          *string         `json:"url"`
	Secret       *string         `json:"secret"`
	Scheme       *string         `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme"`
	EventTypes   *[]string       `json:"event_types"`
	Tenant       *string         `json:"tenant"`
	Description  *string         `json:"description"`
	Disabled     *bool           `json:"disabled"`
	FIFO         *bool           `json:"fifo"`
	RateLimit    *float64        `json:"rate_limit"`
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req updateEndpointRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	if req.Tenant != nil && *req.Tenant != e.Tenant {
		return invalid("an endpoint's tenant cannot be changed; create a new endpoint")
	}
	if req.URL != nil && *req.URL != e.URL {
		if err := a.checkURL(r.Context(), *req.URL); err != nil {
			return err
		}
		e.URL = *req.URL
	}
	switch {
	case req.Scheme != nil && *req.Scheme == delivery.SchemeNone:
		// Only a source's destination may forward unsigned; it then has
		// no secret (a secret sent along is refused below).
		if !strings.HasPrefix(e.Tenant, store.SourceTenantPrefix) || len(req.CustomScheme) > 0 {
			return invalid("scheme %q (forward unsigned) is only for the destinations of inbound sources, without custom_scheme", delivery.SchemeNone)
		}
		e.Scheme, e.CustomScheme, e.Secrets = delivery.SchemeNone, nil, nil
	case req.Scheme != nil || len(req.CustomScheme) > 0:
		name := customSchemeName // custom_scheme alone switches to it
		if req.Scheme != nil {
			name = *req.Scheme
		}
		custom := req.CustomScheme
		if len(custom) == 0 && name == customSchemeName {
			custom = e.CustomScheme
		}
		scheme, schemeName, customJSON, err := resolveScheme(name, custom)
		if err != nil {
			return err
		}
		e.Scheme, e.CustomScheme = schemeName, customJSON
		if req.Secret == nil {
			if len(e.Secrets) == 0 {
				return invalid("the endpoint has no secret (it forwarded unsigned): send a secret with the scheme")
			}
			for _, s := range e.Secrets {
				if signature.ValidateSecret(scheme, s.Value) != nil {
					return invalid("the endpoint's current secret is not valid for scheme %q: send a new secret with the scheme", scheme.Name())
				}
			}
		}
	}
	if req.Secret != nil {
		if e.Scheme == delivery.SchemeNone {
			return invalid("the endpoint forwards unsigned (scheme %q), which takes no secret: send a scheme with the secret", delivery.SchemeNone)
		}
		scheme, err := a.endpointScheme(e)
		if err != nil {
			return err
		}
		if err := checkSecret(scheme, *req.Secret); err != nil {
			return err
		}
		e.Secrets = []store.Secret{{Value: *req.Secret, CreatedAt: a.now()}}
	}
	if req.EventTypes != nil {
		types, err := checkEventTypes(*req.EventTypes)
		if err != nil {
			return invalid("%v", err)
		}
		e.EventTypes = types
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, maxDescriptionLen); err != nil {
			return invalid("%v", err)
		}
		e.Description = *req.Description
	}
	if req.RateLimit != nil {
		if err := checkRateLimit(*req.RateLimit); err != nil {
			return invalid("%v", err)
		}
		e.RateLimit = *req.RateLimit
	}
	if req.FIFO != nil {
		e.FIFO = *req.FIFO
	}
	if req.Disabled != nil && *req.Disabled != e.Disabled {
		e.Disabled = *req.Disabled
		e.DisabledReason = ""
		if e.Disabled {
			e.DisabledReason = "manual"
		} else {
			// A fresh start: an endpoint re-enabled after being disabled
			// for failing is not disabled again before it fails anew.
			e.FailingSince = nil
		}
	}
	e.UpdatedAt = a.now()
	id, patch := e.ID, store.PatchOf(e)
	if req.Disabled != nil {
		patch.Enabled = store.Ptr(!*req.Disabled)
	}
	if e, err = a.store.UpdateEndpoint(r.Context(), e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return patch, nil
	}); err != nil {
		return storeError(err, "endpoint", id)
	}
	if !e.Disabled {
		// Deliveries held back while it was disabled may be due.
		a.notify()
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
	return nil
}

// endpointScheme returns the signature scheme the stored endpoint uses.
func (a *API) endpointScheme(e *store.Endpoint) (*signature.Scheme, error) {
	s, _, _, err := resolveScheme(e.Scheme, e.CustomScheme)
	return s, err
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := a.store.DeleteEndpoint(r.Context(), id); err != nil {
		return storeError(err, "endpoint", id)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateSecretRequest is the optional body of POST .../rotate-secret.
type rotateSecretRequest struct {
	// Secret is the new secret; generated when empty.
	Secret string `json:"secret"`
	// OverlapSeconds is how long the current secrets keep signing;
	// absent: the server's default.
	OverlapSeconds *int64 `json:"overlap_seconds"`
}

func (a *API) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	var req rotateSecretRequest
	body, err := readBody(w, r, maxBodyBytes)
	if err != nil {
		return err
	}
	if len(body) > 0 {
		if err := decodeJSON(body, &req); err != nil {
			return err
		}
	}
	overlap := a.rotationOverlap
	if req.OverlapSeconds != nil {
		overlap = time.Duration(*req.OverlapSeconds) * time.Second
		if *req.OverlapSeconds < 0 || overlap > MaxRotationOverlap {
			return invalid("overlap_seconds must be from 0 to %d", int64(MaxRotationOverlap/time.Second))
		}
	}
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	if e.Scheme == delivery.SchemeNone {
		// Not a bad request but one that does not apply to this endpoint
		// as it stands: it has no secret, and rotating one in would not
		// make it sign.
		return &Error{http.StatusConflict, CodeConflict, fmt.Sprintf(
			"endpoint %s forwards unsigned (scheme %q) and has no secret to rotate; to re-sign its deliveries, PATCH it with a scheme and a secret",
			e.ID, delivery.SchemeNone)}
	}
	scheme, err := a.endpointScheme(e)
	if err != nil {
		return err
	}
	if req.Secret != "" {
		if err := checkSecret(scheme, req.Secret); err != nil {
			return err
		}
	} else if req.Secret, err = newSecret(scheme); err != nil {
		return err
	}
	now := a.now()
	// The rotation applies to the secrets as stored when it is written, so
	// that concurrent rotations all keep theirs.
	id := e.ID
	if e, err = a.store.UpdateEndpoint(r.Context(), id, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Secrets: store.Ptr(rotate(cur.Secrets, req.Secret, now, overlap)), UpdatedAt: now}, nil
	}); err != nil {
		return storeError(err, "endpoint", id)
	}
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
	return nil
}

// rotate returns the secrets after a rotation to secret at now: the new
// secret first, then the old ones that still sign, each expiring at
// now+overlap at the latest, at most maxSecrets in all.
func rotate(old []store.Secret, secret string, now time.Time, overlap time.Duration) []store.Secret {
	out := []store.Secret{{Value: secret, CreatedAt: now}}
	if overlap <= 0 {
		return out
	}
	until := now.Add(overlap)
	for _, s := range old {
		if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
			continue
		}
		if s.ExpiresAt == nil || s.ExpiresAt.After(until) {
			s.ExpiresAt = &until
		}
		out = append(out, s)
	}
	return out[:min(len(out), maxSecrets)]
}

// revealResponse is the body of POST .../secret/reveal.
type revealResponse struct {
	ID      string       `json:"id"`
	Secrets []secretJSON `json:"secrets"`
}

func (a *API) revealSecret(w http.ResponseWriter, r *http.Request) error {
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	now := a.now()
	secrets := slices.DeleteFunc(slices.Clone(e.Secrets), func(s store.Secret) bool {
		return s.ExpiresAt != nil && !s.ExpiresAt.After(now)
	})
	writeJSON(w, http.StatusOK, revealResponse{ID: e.ID, Secrets: secretsJSON(secrets, true)})
	return nil
}
