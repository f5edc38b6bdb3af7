package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/inbound"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// The rules of a source's settings (limits, defaults, the windows, the
// secrets, what a destination is) are internal/inbound's, which the
// dashboard applies too; this file checks what is the API's own (the JSON,
// URLs, names) and says inbound's errors in the request's field names.

// sourceJSON is a source in responses. It never holds a secret but in the
// response to its creation, where Secret is the secret generated for it.
type sourceJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Description         string          `json:"description"`
	IngestPath          string          `json:"ingest_path"`
	Tenant              string          `json:"tenant"`
	EventType           string          `json:"event_type"`
	Scheme              string          `json:"scheme"`
	CustomScheme        json.RawMessage `json:"custom_scheme,omitempty"`
	Secrets             []secretJSON    `json:"secrets"`
	ToleranceSeconds    int64           `json:"tolerance_seconds"`
	DedupeWindowSeconds int64           `json:"dedupe_window_seconds"`
	SlackChallenge      bool            `json:"slack_challenge"`
	ZoomValidation      bool            `json:"zoom_validation"`
	Destinations        []endpointJSON  `json:"destinations,omitempty"`
	Secret              string          `json:"secret,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
}

func toSourceJSON(s *store.Source) sourceJSON {
	return sourceJSON{
		ID:                  s.ID,
		Name:                s.Name,
		Description:         s.Description,
		IngestPath:          "/in/" + s.Name,
		Tenant:              s.Tenant(),
		EventType:           s.EventType(),
		Scheme:              s.Scheme,
		CustomScheme:        s.CustomScheme,
		Secrets:             secretsJSON(s.Secrets, false),
		ToleranceSeconds:    int64(s.Tolerance / time.Second),
		DedupeWindowSeconds: int64(s.DedupeWindow / time.Second),
		SlackChallenge:      s.SlackChallenge,
		ZoomValidation:      s.ZoomSecret.Value != "",
		CreatedAt:           utc(s.CreatedAt),
		UpdatedAt:           utc(s.UpdatedAt),
	}
}

// destinationRequest is a destination in POST /api/v1/sources and the body
// of POST /api/v1/sources/{id}/destinations: an endpoint of the source's
// tenant. Scheme "none" (the default) forwards unsigned; any other scheme
// re-signs with Secret (generated when empty).
type destinationRequest struct {
	URL          string          `json:"url"`
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme"`
	Secret       string          `json:"secret"`
	Description  string          `json:"description"`
	Disabled     bool            `json:"disabled"`
	FIFO         bool            `json:"fifo"`
	RateLimit    float64         `json:"rate_limit"`
}

// createSourceRequest is the body of POST /api/v1/sources.
type createSourceRequest struct {
	Name         string          `json:"name"`
	Description  string          `json:"description"`
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme"`
	// Secrets verify requests, newest first; one is generated when none
	// is given.
	Secrets             []string             `json:"secrets"`
	ToleranceSeconds    *int64               `json:"tolerance_seconds"`
	DedupeWindowSeconds *int64               `json:"dedupe_window_seconds"`
	SlackChallenge      bool                 `json:"slack_challenge"`
	ZoomSecret          string               `json:"zoom_secret"`
	Destinations        []destinationRequest `json:"destinations"`
}

func (a *API) createSource(w http.ResponseWriter, r *http.Request) error {
	var req createSourceRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if !store.ValidSourceName(req.Name) {
		return invalid("name %q: want 1 to 63 lowercase letters, digits and hyphens, not starting with a hyphen", req.Name)
	}
	if req.Scheme == "" && len(req.CustomScheme) == 0 {
		return invalid("scheme is required: one of %s, or %q with custom_scheme", strings.Join(signature.Names(), ", "), customSchemeName)
	}
	scheme, schemeName, custom, err := resolveScheme(req.Scheme, req.CustomScheme)
	if err != nil {
		return err
	}
	now := a.now()
	src := &store.Source{
		ID:             store.NewID("src"),
		Name:           req.Name,
		Description:    req.Description,
		Scheme:         schemeName,
		CustomScheme:   custom,
		SlackChallenge: req.SlackChallenge,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	if err := checkText("description", req.Description, maxDescriptionLen); err != nil {
		return invalid("%v", err)
	}
	generated := ""
	if len(req.Secrets) == 0 {
		if generated, err = newSecret(scheme); err != nil {
			return err
		}
		req.Secrets = []string{generated}
	}
	if src.Secrets, err = inbound.CheckSecrets(scheme, req.Secrets, now); err != nil {
		return settingError(err)
	}
	if err := setWindows(src, scheme, req.ToleranceSeconds, req.DedupeWindowSeconds); err != nil {
		return err
	}
	if err := setZoomSecret(src, req.ZoomSecret, now); err != nil {
		return err
	}
	if len(req.Destinations) > inbound.MaxDestinations {
		return invalid("at most %d destinations", inbound.MaxDestinations)
	}
	// Check every destination before creating anything.
	dests := make([]*store.Endpoint, len(req.Destinations))
	secrets := make([]string, len(req.Destinations))
	for i, d := range req.Destinations {
		ep, secret, err := a.destination(r.Context(), src, d, now)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				e.Message = fmt.Sprintf("destinations[%d]: %s", i, e.Message)
			}
			return err
		}
		dests[i], secrets[i] = ep, secret
	}
	if err := a.store.CreateSource(r.Context(), src, dests); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &Error{http.StatusConflict, CodeConflict, "a source called " + src.Name + " exists"}
		}
		return fmt.Errorf("create source: %w", err)
	}
	out := toSourceJSON(src)
	out.Secret = generated
	out.Destinations = []endpointJSON{}
	for i, ep := range dests {
		ej := toEndpointJSON(ep)
		ej.Secret = secrets[i]
		out.Destinations = append(out.Destinations, ej)
	}
	w.Header().Set("Location", "/api/v1/sources/"+src.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// settingError turns an *inbound.SettingError into a validation error
// that names the setting as the request's JSON does; other errors are
// returned as they are.
func settingError(err error) error {
	se, ok := errors.AsType[*inbound.SettingError](err)
	if !ok {
		return err
	}
	field := map[string]string{
		inbound.SettingTolerance:    "tolerance_seconds",
		inbound.SettingDedupeWindow: "dedupe_window_seconds",
	}[se.Setting]
	if field == "" {
		field = se.Setting
	}
	if se.Index >= 0 {
		return invalid("%s[%d]: secret %s", field, se.Index, se.Reason)
	}
	return invalid("%s %s", field, se.Reason)
}

// setWindows sets the tolerance and dedupe window of src from the request
// (nil: keep what src has; a zero dedupe window means the default) and
// checks them with inbound.CheckWindows.
func setWindows(src *store.Source, scheme *signature.Scheme, tolSec, dedupeSec *int64) error {
	if tolSec != nil {
		src.Tolerance = inbound.Seconds(*tolSec)
	}
	if dedupeSec != nil {
		src.DedupeWindow = inbound.Seconds(*dedupeSec)
	}
	dedupe, err := inbound.CheckWindows(scheme, src.Tolerance, src.DedupeWindow)
	if err != nil {
		return settingError(err)
	}
	src.DedupeWindow = dedupe
	return nil
}

// setZoomSecret sets (or with "" clears) the Zoom secret token of src.
func setZoomSecret(src *store.Source, secret string, now time.Time) error {
	if err := checkText("zoom_secret", secret, maxSecretLen); err != nil {
		return invalid("%v", err)
	}
	src.ZoomSecret = store.Secret{}
	if secret != "" {
		src.ZoomSecret = store.Secret{Value: secret, CreatedAt: now}
	}
	return nil
}

// destination checks d and returns the endpoint it describes in src's
// tenant, not yet created, with the secret to show (if it signs).
func (a *API) destination(ctx context.Context, src *store.Source, d destinationRequest, now time.Time) (*store.Endpoint, string, error) {
	if err := a.checkURL(ctx, d.URL); err != nil {
		return nil, "", err
	}
	if err := errors.Join(checkText("description", d.Description, maxDescriptionLen), checkRateLimit(d.RateLimit)); err != nil {
		return nil, "", invalid("%v", err)
	}
	dest := inbound.Destination{
		URL: d.URL, Secret: d.Secret, Description: d.Description,
		Disabled: d.Disabled, FIFO: d.FIFO, RateLimit: d.RateLimit,
	}
	if (d.Scheme != "" && d.Scheme != delivery.SchemeNone) || len(d.CustomScheme) > 0 {
		scheme, _, custom, err := resolveScheme(d.Scheme, d.CustomScheme)
		if err != nil {
			return nil, "", err
		}
		dest.Scheme, dest.CustomScheme = scheme, custom
	}
	ep, secret, err := inbound.NewDestination(src, dest, now)
	if err != nil {
		return nil, "", settingError(err)
	}
	return ep, secret, nil
}

// source loads the source the {id} path value names: by id ("src_...") or
// by name.
func (a *API) source(r *http.Request) (*store.Source, error) {
	id := r.PathValue("id")
	var (
		src *store.Source
		err error
	)
	if strings.HasPrefix(id, "src_") {
		src, err = a.store.GetSource(r.Context(), id)
	} else {
		src, err = a.store.SourceByName(r.Context(), id)
	}
	if err != nil {
		return nil, storeError(err, "source", id)
	}
	return src, nil
}

func (a *API) listSources(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	srcs, next, err := a.store.ListSources(r.Context(), page)
	if err != nil {
		return storeError(err, "cursor", page.Cursor)
	}
	out := list[sourceJSON]{Data: make([]sourceJSON, len(srcs)), NextCursor: next}
	for i, s := range srcs {
		out.Data[i] = toSourceJSON(s)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getSource(w http.ResponseWriter, r *http.Request) error {
	src, err := a.source(r)
	if err != nil {
		return err
	}
	return a.writeSource(w, r, http.StatusOK, src)
}

// writeSource writes src with its destinations.
func (a *API) writeSource(w http.ResponseWriter, r *http.Request, status int, src *store.Source) error {
	eps, err := inbound.Destinations(r.Context(), a.store, src)
	if err != nil {
		return err
	}
	out := toSourceJSON(src)
	out.Destinations = make([]endpointJSON, len(eps))
	for i, e := range eps {
		out.Destinations[i] = toEndpointJSON(e)
	}
	writeJSON(w, status, out)
	return nil
}

// updateSourceRequest is the body of PATCH /api/v1/sources/{id}: only the
// fields present change. Secrets replaces every secret (list the old ones
// after the new one to keep accepting them during a rotation); zoom_secret
// "" turns the Zoom handshake off. The name cannot change.
type updateSourceRequest struct {
	Name                *string          `json:"name"`
	Description         *string          `json:"description"`
	Scheme              *string          `json:"scheme"`
	CustomScheme        json.RawMessage  `json:"custom_scheme"`
	Secrets             *[]string        `json:"secrets"`
	ToleranceSeconds    *int64           `json:"tolerance_seconds"`
	DedupeWindowSeconds *int64           `json:"dedupe_window_seconds"`
	SlackChallenge      *bool            `json:"slack_challenge"`
	ZoomSecret          *string          `json:"zoom_secret"`
	Destinations        *json.RawMessage `json:"destinations"`
}

func (a *API) updateSource(w http.ResponseWriter, r *http.Request) error {
	var req updateSourceRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if req.Destinations != nil {
		return invalid("destinations are endpoints: add one with POST /api/v1/sources/{id}/destinations, change or delete it under /api/v1/endpoints/{id}")
	}
	src, err := a.source(r)
	if err != nil {
		return err
	}
	if req.Name != nil && *req.Name != src.Name {
		return invalid("a source's name cannot be changed: it is its ingest path and the tenant of its destinations")
	}
	now := a.now()
	scheme, _, _, err := resolveScheme(src.Scheme, src.CustomScheme)
	if req.Scheme != nil || len(req.CustomScheme) > 0 {
		name := customSchemeName
		if req.Scheme != nil {
			name = *req.Scheme
		}
		custom := req.CustomScheme
		if len(custom) == 0 && name == customSchemeName {
			custom = src.CustomScheme
		}
		var schemeName string
		scheme, schemeName, custom, err = resolveScheme(name, custom)
		if err != nil {
			return err
		}
		src.Scheme, src.CustomScheme = schemeName, custom
		if req.Secrets == nil {
			for _, s := range src.Secrets {
				if signature.ValidateSecret(scheme, s.Value) != nil {
					return invalid("the source's current secrets are not valid for scheme %q: send new secrets with the scheme", scheme.Name())
				}
			}
		}
	}
	if err != nil {
		return fmt.Errorf("source %s: %w", src.ID, err)
	}
	if req.Secrets != nil {
		if src.Secrets, err = inbound.CheckSecrets(scheme, *req.Secrets, now); err != nil {
			return settingError(err)
		}
	}
	if req.Description != nil {
		if err := checkText("description", *req.Description, maxDescriptionLen); err != nil {
			return invalid("%v", err)
		}
		src.Description = *req.Description
	}
	if err := setWindows(src, scheme, req.ToleranceSeconds, req.DedupeWindowSeconds); err != nil {
		return err
	}
	if req.SlackChallenge != nil {
		src.SlackChallenge = *req.SlackChallenge
	}
	if req.ZoomSecret != nil {
		if err := setZoomSecret(src, *req.ZoomSecret, now); err != nil {
			return err
		}
	}
	src.UpdatedAt = now
	id, patch := src.ID, store.SourcePatchOf(src)
	if src, err = a.store.UpdateSource(r.Context(), id, func(*store.Source) (store.SourcePatch, error) {
		return patch, nil
	}); err != nil {
		return storeError(err, "source", id)
	}
	return a.writeSource(w, r, http.StatusOK, src)
}

// deleteSource deletes the source's destinations (canceling their pending
// deliveries), then the source and its rejections. Its events stay.
func (a *API) deleteSource(w http.ResponseWriter, r *http.Request) error {
	src, err := a.source(r)
	if err != nil {
		return err
	}
	if err := inbound.DeleteSource(r.Context(), a.store, src); err != nil {
		return storeError(err, "source", src.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) createDestination(w http.ResponseWriter, r *http.Request) error {
	var req destinationRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	src, err := a.source(r)
	if err != nil {
		return err
	}
	ep, secret, err := a.destination(r.Context(), src, req, a.now())
	if err != nil {
		return err
	}
	if err := a.store.CreateEndpoint(r.Context(), ep); err != nil {
		return storeError(err, "endpoint", ep.ID)
	}
	out := toEndpointJSON(ep)
	out.Secret = secret
	w.Header().Set("Location", "/api/v1/endpoints/"+ep.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// rejectionJSON is a rejected request in responses. The body is text when
// it is UTF-8, else base64.
type rejectionJSON struct {
	ID            string            `json:"id"`
	SourceID      string            `json:"source_id"`
	ReceivedAt    time.Time         `json:"received_at"`
	Reason        string            `json:"reason"`
	Detail        string            `json:"detail"`
	RemoteAddr    string            `json:"remote_addr"`
	Headers       map[string]string `json:"headers"`
	Body          *string           `json:"body,omitempty"`
	BodyBase64    *string           `json:"body_base64,omitempty"`
	BodySize      int64             `json:"body_size"`
	BodyTruncated bool              `json:"body_truncated"`
}

func (a *API) listRejections(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	src, err := a.source(r)
	if err != nil {
		return err
	}
	rs, next, err := a.store.ListRejections(r.Context(), store.RejectionFilter{SourceID: src.ID, Page: page})
	if err != nil {
		return storeError(err, "cursor", page.Cursor)
	}
	out := list[rejectionJSON]{Data: make([]rejectionJSON, len(rs)), NextCursor: next}
	for i, rj := range rs {
		j := rejectionJSON{
			ID: rj.ID, SourceID: rj.SourceID, ReceivedAt: utc(rj.ReceivedAt), Reason: rj.Reason, Detail: rj.Detail,
			RemoteAddr: rj.RemoteAddr, Headers: rj.Headers, BodySize: rj.BodySize,
			BodyTruncated: rj.BodySize > int64(len(rj.Body)),
		}
		if j.Headers == nil {
			j.Headers = map[string]string{}
		}
		if utf8.Valid(rj.Body) {
			s := string(rj.Body)
			j.Body = &s
		} else {
			s := base64.StdEncoding.EncodeToString(rj.Body)
			j.BodyBase64 = &s
		}
		out.Data[i] = j
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// checkOwnTenant refuses, for the endpoints and events routes, a tenant
// reserved for a source's destinations: those are created through the
// sources routes, and only the gateway creates their events.
func checkOwnTenant(t string) error {
	if strings.HasPrefix(t, store.SourceTenantPrefix) {
		return fmt.Errorf("tenant %q is reserved for the destinations of inbound sources (use /api/v1/sources)", t)
	}
	return nil
}

// encodePayload returns a payload that is not JSON as a JSON string: its
// text ("text") if it is UTF-8, else its base64 ("base64").
func encodePayload(p []byte) (string, []byte) {
	enc, s := "text", string(p)
	if !utf8.Valid(p) {
		enc, s = "base64", base64.StdEncoding.EncodeToString(p)
	}
	b, err := marshal(s)
	if err != nil {
		return enc, []byte(`""`)
	}
	return enc, bytes.TrimSuffix(b, []byte("\n"))
}
