package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
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
	Filter         json.RawMessage `json:"filter"` // null when none
	Disabled       bool            `json:"disabled"`
	DisabledReason string          `json:"disabled_reason,omitempty"`
	FIFO           bool            `json:"fifo"`
	RateLimit      float64         `json:"rate_limit"`
	TraceContext   bool            `json:"trace_context"`
	FailingSince   *time.Time      `json:"failing_since,omitempty"`
	Secrets        []secretJSON    `json:"secrets"`
	Secret         string          `json:"secret,omitempty"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	settingsJSON
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
		Filter:         e.Filter,
		Disabled:       e.Disabled,
		DisabledReason: e.DisabledReason,
		FIFO:           e.FIFO,
		RateLimit:      e.RateLimit,
		TraceContext:   e.TraceContext,
		FailingSince:   utcPtr(e.FailingSince),
		Secrets:        secretsJSON(e.Secrets, false),
		CreatedAt:      utc(e.CreatedAt),
		UpdatedAt:      utc(e.UpdatedAt),
		settingsJSON:   toSettingsJSON(e),
	}
}

// createEndpointRequest is the body of POST /api/v1/endpoints.
type createEndpointRequest struct {
	URL          string          `json:"url"`
	Secret       string          `json:"secret"`
	Scheme       string          `json:"scheme"`
	CustomScheme json.RawMessage `json:"custom_scheme"`
	EventTypes   []string        `json:"event_types"`
	Filter       json.RawMessage `json:"filter"`
	Tenant       *string         `json:"tenant"`
	Description  string          `json:"description"`
	Disabled     bool            `json:"disabled"`
	FIFO         bool            `json:"fifo"`
	RateLimit    float64         `json:"rate_limit"`
	TraceContext bool            `json:"trace_context"`
	// The delivery settings (settingsJSON), in clear.
	Headers              map[string]string   `json:"headers"`
	Auth                 *store.ReceiverAuth `json:"auth"`
	ClientTLS            *store.ClientTLS    `json:"client_tls"`
	TimeoutSeconds       float64             `json:"timeout_seconds"`
	RetryScheduleSeconds json.RawMessage     `json:"retry_schedule_seconds"`
}

func (a *API) createEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req createEndpointRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	tenant, err := tenantOf(r, req.Tenant)
	if err != nil {
		return err
	}
	noteTenant(r, tenant)
	sched, err := schedule(req.RetryScheduleSeconds)
	if err != nil {
		return err
	}
	spec := rules.EndpointSpec{
		Tenant: tenant, URL: req.URL, Description: req.Description,
		Scheme: req.Scheme, CustomScheme: req.CustomScheme, Secret: req.Secret,
		EventTypes: req.EventTypes, Filter: req.Filter, Disabled: req.Disabled, FIFO: req.FIFO, RateLimit: req.RateLimit,
		Headers: req.Headers, Auth: req.Auth, ClientTLS: req.ClientTLS, Timeout: seconds(req.TimeoutSeconds),
		TraceContext: req.TraceContext,
	}
	if sched != nil {
		spec.RetrySchedule = *sched
	}
	e, secret, err := a.rules.CreateEndpoint(r.Context(), spec)
	if err != nil {
		return rulesError(err, "endpoint", "")
	}
	noteTarget(r, e.ID, e.URL)
	out := toEndpointJSON(e)
	out.Secret = secret
	w.Header().Set("Location", "/api/v1/endpoints/"+e.ID)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) listEndpoints(w http.ResponseWriter, r *http.Request) error {
	page, tenant, ok, err := pageTenantParams(r)
	if err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusOK, list[endpointJSON]{Data: []endpointJSON{}})
		return nil
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

// endpoint loads the endpoint named by the {id} path value; one of
// another tenant than the caller's is not found.
func (a *API) endpoint(r *http.Request) (*store.Endpoint, error) {
	id := r.PathValue("id")
	e, err := a.rules.GetEndpoint(r.Context(), id, principalOf(r).Within())
	if err != nil {
		return nil, storeError(err, "endpoint", id)
	}
	noteTenant(r, e.Tenant)
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
	// Filter replaces the payload filter; null or {} removes it.
	Filter       json.RawMessage `json:"filter"`
	Tenant       *string         `json:"tenant"`
	Description  *string         `json:"description"`
	Disabled     *bool           `json:"disabled"`
	FIFO         *bool           `json:"fifo"`
	RateLimit    *float64        `json:"rate_limit"`
	TraceContext *bool           `json:"trace_context"`
	// Headers replaces every header ({} clears them); auth and client_tls
	// replace theirs ({} clears); retry_schedule_seconds null goes back
	// to the server's schedule.
	Headers              *map[string]string  `json:"headers"`
	Auth                 *store.ReceiverAuth `json:"auth"`
	ClientTLS            *store.ClientTLS    `json:"client_tls"`
	TimeoutSeconds       *float64            `json:"timeout_seconds"`
	RetryScheduleSeconds json.RawMessage     `json:"retry_schedule_seconds"`
}

func (a *API) updateEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req updateEndpointRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	sched, err := schedule(req.RetryScheduleSeconds)
	if err != nil {
		return err
	}
	ch := rules.EndpointChange{
		Tenant: req.Tenant, URL: req.URL, Description: req.Description, Scheme: req.Scheme,
		Secret: req.Secret, EventTypes: req.EventTypes, FIFO: req.FIFO, RateLimit: req.RateLimit,
		TraceContext: req.TraceContext,
		Headers:      req.Headers, Auth: req.Auth, ClientTLS: req.ClientTLS, RetrySchedule: sched,
	}
	if req.TimeoutSeconds != nil {
		ch.Timeout = new(seconds(*req.TimeoutSeconds))
	}
	if len(req.CustomScheme) > 0 && string(req.CustomScheme) != "null" {
		ch.CustomScheme = req.CustomScheme
	}
	if req.Disabled != nil {
		ch.Enabled = new(!*req.Disabled)
	}
	if req.Tenant != nil {
		if _, err := tenantOf(r, req.Tenant); err != nil {
			return err
		}
	}
	if req.Filter != nil {
		ch.Filter = new([]byte(req.Filter))
	}
	id := r.PathValue("id")
	e, generated, err := a.rules.UpdateEndpoint(r.Context(), id, ch, principalOf(r).Within())
	if err != nil {
		return rulesError(err, "endpoint", id)
	}
	noteTenant(r, e.Tenant)
	if !e.Disabled {
		// Deliveries held back while it was disabled may be due.
		a.notify()
	}
	out := toEndpointJSON(e)
	out.Secret = generated
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) deleteEndpoint(w http.ResponseWriter, r *http.Request) error {
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	if err := a.rules.DeleteEndpoint(r.Context(), e.ID, principalOf(r).Within()); err != nil {
		return storeError(err, "endpoint", e.ID)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testFilterRequest is the body of POST .../test-filter.
type testFilterRequest struct {
	// Payload is the payload to test, a JSON value, compared as written.
	Payload json.RawMessage `json:"payload"`
	// Filter is a filter to try instead of the endpoint's own; absent
	// (or null) tests the endpoint's.
	Filter json.RawMessage `json:"filter"`
}

// testFilterResponse answers POST .../test-filter.
type testFilterResponse struct {
	Matches bool `json:"matches"`
}

func (a *API) testFilter(w http.ResponseWriter, r *http.Request) error {
	var req testFilterRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if req.Payload == nil {
		return invalid("payload is required: the JSON payload to test")
	}
	var try []byte
	if req.Filter != nil && string(req.Filter) != "null" {
		try = req.Filter
	}
	id := r.PathValue("id")
	ok, err := a.rules.TestFilter(r.Context(), id, nil, req.Payload, try)
	if err != nil {
		return rulesError(err, "endpoint", id)
	}
	writeJSON(w, http.StatusOK, testFilterResponse{Matches: ok})
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
	rot := rules.Rotation{Secret: req.Secret}
	if req.OverlapSeconds != nil {
		// Saturated, so that a count too large for a duration stays out of
		// range instead of wrapping around into it.
		rot.Overlap = new(rules.Seconds(*req.OverlapSeconds))
	}
	id := r.PathValue("id")
	e, _, err := a.rules.RotateSecret(r.Context(), id, rot, principalOf(r).Within())
	if errors.Is(err, rules.ErrUnsigned) {
		// Not a bad request but one that does not apply to this endpoint
		// as it stands: it has no secret, and rotating one in would not
		// make it sign.
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(
			"endpoint %s forwards unsigned (scheme %q) and has no secret to rotate; to re-sign its deliveries, PATCH it with a scheme and a secret",
			id, schemes.None)}

	}
	if err != nil {
		return rulesError(err, "endpoint", id)
	}
	noteTenant(r, e.Tenant)
	writeJSON(w, http.StatusOK, toEndpointJSON(e))
	return nil
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
	writeJSON(w, http.StatusOK, revealResponse{ID: e.ID, Secrets: secretsJSON(rules.LiveSecrets(e.Secrets, a.now()), true)})
	return nil
}

// rulesError turns an error of internal/rules into a response: field
// errors are 422 naming every field, ErrChanged a 409, store errors as
// storeError says.
func rulesError(err error, what, id string) error {
	if fs := rules.Fields(err); fs != nil {
		return &fieldsError{
			err:    &Error{Status: http.StatusUnprocessableEntity, Code: CodeValidation, Message: rules.FieldErrors(fs).Error()},
			fields: fs,
		}
	}
	if errors.Is(err, rules.ErrChanged) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: what + " " + id + " was changed meanwhile: read it again and retry"}
	}
	return storeError(err, what, id)
}
