package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/store"
)

// eventTypeRequest is the body of POST /api/v1/event-types and, with
// every field optional, of PATCH /api/v1/event-types/{name}. Schema and
// example are kept as the exact JSON given; null clears them.
type eventTypeRequest struct {
	Name        *string          `json:"name"`
	Description *string          `json:"description"`
	Schema      *json.RawMessage `json:"schema"`
	Example     *json.RawMessage `json:"example"`
	Deprecated  *bool            `json:"deprecated"`
	Enforce     *bool            `json:"enforce"`
}

// eventTypeJSON is an event type in responses.
type eventTypeJSON struct {
	Name        string          `json:"name"`
	Group       string          `json:"group"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
	Example     json.RawMessage `json:"example"`
	Deprecated  bool            `json:"deprecated"`
	Enforce     bool            `json:"enforce"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

func toEventTypeJSON(t *store.EventType) eventTypeJSON {
	out := eventTypeJSON{
		Name: t.Name, Group: catalog.Group(t.Name), Description: t.Description,
		Schema: json.RawMessage("null"), Example: json.RawMessage("null"),
		Deprecated: t.Deprecated, Enforce: t.Enforce, CreatedAt: utc(t.CreatedAt), UpdatedAt: utc(t.UpdatedAt),
	}
	if t.Schema != nil {
		out.Schema = t.Schema
	}
	if t.Example != nil {
		out.Example = t.Example
	}
	return out
}

// maxEventTypeBody bounds an event type request: a schema and an example.
const maxEventTypeBody = catalog.MaxSchemaBytes + catalog.MaxExampleBytes + maxBodyBytes

func (a *API) createEventType(w http.ResponseWriter, r *http.Request) error {
	var req eventTypeRequest
	if err := decodeBody(w, r, maxEventTypeBody, &req); err != nil {
		return err
	}
	s := catalog.Spec{}
	if req.Name != nil {
		s.Name = *req.Name
	}
	if req.Description != nil {
		s.Description = *req.Description
	}
	if req.Schema != nil {
		s.Schema = *req.Schema
	}
	if req.Example != nil {
		s.Example = *req.Example
	}
	s.Deprecated = req.Deprecated != nil && *req.Deprecated
	s.Enforce = req.Enforce != nil && *req.Enforce
	t, err := a.catalog.Create(r.Context(), s)
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "an event type called " + s.Name + " exists"}
	}
	if err != nil {
		return rulesError(err, "event type", s.Name)
	}
	w.Header().Set("Location", "/api/v1/event-types/"+t.Name)
	writeJSON(w, http.StatusCreated, toEventTypeJSON(t))
	return nil
}

func (a *API) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	page, err := pageParams(r)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	if err := checkText("prefix", prefix, maxEventTypeLen); err != nil {
		return err
	}
	ts, next, err := a.store.ListEventTypes(r.Context(), store.EventTypeFilter{Prefix: prefix, Limit: page.Limit, Cursor: page.Cursor})
	if err != nil {
		return fmt.Errorf("list event types: %w", err)
	}
	out := list[eventTypeJSON]{Data: make([]eventTypeJSON, len(ts)), NextCursor: next}
	for i, t := range ts {
		out.Data[i] = toEventTypeJSON(t)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) getEventType(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	t, err := a.store.GetEventType(r.Context(), name)
	if err != nil {
		return storeError(err, "event type", name)
	}
	writeJSON(w, http.StatusOK, toEventTypeJSON(t))
	return nil
}

func (a *API) updateEventType(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req eventTypeRequest
	if err := decodeBody(w, r, maxEventTypeBody, &req); err != nil {
		return err
	}
	if req.Name != nil && *req.Name != name {
		return invalid("name cannot be changed")
	}
	t, err := a.catalog.Update(r.Context(), name, catalog.Change{
		Description: req.Description, Schema: req.Schema, Example: req.Example,
		Deprecated: req.Deprecated, Enforce: req.Enforce,
	})
	if err != nil {
		return rulesError(err, "event type", name)
	}
	writeJSON(w, http.StatusOK, toEventTypeJSON(t))
	return nil
}

func (a *API) deleteEventType(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	if err := a.catalog.Delete(r.Context(), name); err != nil {
		return storeError(err, "event type", name)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sendExampleRequest is the body of POST /api/v1/event-types/{name}/send-example.
type sendExampleRequest struct {
	EndpointID string `json:"endpoint_id"`
}

// sendExample sends a type's example payload to one endpoint as an event
// of that type, whatever the endpoint's event type filter: a delivery
// signed, recorded and retried like any other.
func (a *API) sendExample(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	var req sendExampleRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if req.EndpointID == "" {
		return invalid("endpoint_id is required")
	}
	ev, ds, err := catalog.SendExample(r.Context(), a.store, name, req.EndpointID, a.now())
	switch {
	case errors.Is(err, catalog.ErrNoExample):
		return invalid("event type %s has no example", name)
	case errors.Is(err, catalog.ErrEndpointDisabled):
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "endpoint " + req.EndpointID + " is disabled or deleted"}
	case errors.Is(err, catalog.ErrNoType):
		return notFound("event type", name)
	case errors.Is(err, store.ErrNotFound):
		return notFound("endpoint", req.EndpointID)
	case err != nil:
		return err
	}
	if store.AnyUnclaimed(ds) {
		a.notify()
	}
	out := toEventJSON(ev)
	n := len(ds)
	out.Deliveries = &n
	w.Header().Set("Location", "/api/v1/events/"+ev.ID)
	return writeEvent(w, http.StatusAccepted, out, ev.Payload)
}

// violationError answers an event whose payload breaks its type's schema:
// 422 with the JSON Pointer of the first fault and the keyword it broke.
func violationError(v *catalog.Violation) error {
	return &detailedError{&Error{Status: http.StatusUnprocessableEntity, Code: CodeSchemaViolation, Message: v.Error()},
		map[string]string{"pointer": v.Pointer, "keyword": v.Keyword}}
}
