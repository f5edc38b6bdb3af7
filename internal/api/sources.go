package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// The rules of a source's settings (limits, defaults, the windows, the
// secrets, what a destination is) are internal/rules', which the
// dashboard applies too; this file translates JSON to them and back.

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
	TraceContext bool            `json:"trace_context"`
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
	spec := rules.SourceSpec{
		Name: req.Name, Description: req.Description, Scheme: req.Scheme, CustomScheme: req.CustomScheme,
		Secrets: req.Secrets, SlackChallenge: req.SlackChallenge, ZoomSecret: req.ZoomSecret,
	}
	if req.ToleranceSeconds != nil {
		spec.Tolerance = rules.Seconds(*req.ToleranceSeconds)
	}
	if req.DedupeWindowSeconds != nil {
		spec.DedupeWindow = rules.Seconds(*req.DedupeWindowSeconds)
	}
	for _, d := range req.Destinations {
		spec.Destinations = append(spec.Destinations, d.spec())
	}
	made, err := a.rules.CreateSource(r.Context(), spec)
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "a source called " + req.Name + " exists"}
	}
	if err != nil {
		return rulesError(err, "source", req.Name)
	}
	out := toSourceJSON(made.Source)
	out.Secret = made.Secret
	out.Destinations = make([]endpointJSON, len(made.Destinations))
	for i, ep := range made.Destinations {
		out.Destinations[i] = toEndpointJSON(ep)
		out.Destinations[i].Secret = made.DestinationSecrets[i]
	}
	w.Header().Set("Location", "/api/v1/sources/"+made.Source.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// spec is the destination the request describes.
func (d destinationRequest) spec() rules.DestinationSpec {
	return rules.DestinationSpec{
		URL: d.URL, Scheme: d.Scheme, CustomScheme: d.CustomScheme, Secret: d.Secret,
		Description: d.Description, Disabled: d.Disabled, FIFO: d.FIFO, RateLimit: d.RateLimit,
		TraceContext: d.TraceContext,
	}
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
	eps, err := a.rules.Destinations(r.Context(), src)
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
	ch := rules.SourceChange{
		Name: req.Name, Description: req.Description, Scheme: req.Scheme, Secrets: req.Secrets,
		SlackChallenge: req.SlackChallenge, ZoomSecret: req.ZoomSecret,
	}
	if len(req.CustomScheme) > 0 && string(req.CustomScheme) != "null" {
		ch.CustomScheme = req.CustomScheme
	}
	if req.ToleranceSeconds != nil {
		ch.Tolerance = new(rules.Seconds(*req.ToleranceSeconds))
	}
	if req.DedupeWindowSeconds != nil {
		ch.DedupeWindow = new(rules.Seconds(*req.DedupeWindowSeconds))
	}
	src, err = a.rules.UpdateSource(r.Context(), src.ID, ch)
	if err != nil {
		return rulesError(err, "source", r.PathValue("id"))
	}
	return a.writeSource(w, r, http.StatusOK, src)
}

// deleteSource deletes the source's destinations (canceling their pending
// deliveries), the source and its rejections, in one transaction. Its
// events stay.
func (a *API) deleteSource(w http.ResponseWriter, r *http.Request) error {
	src, err := a.source(r)
	if err != nil {
		return err
	}
	if err := a.rules.DeleteSource(r.Context(), src.ID); err != nil {
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
	ep, secret, err := a.rules.AddDestination(r.Context(), src.ID, req.spec())
	if err != nil {
		return rulesError(err, "source", src.ID)
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
