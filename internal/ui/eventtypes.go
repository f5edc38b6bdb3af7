package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// eventTypesPerPage is how many types the catalog page lists at once.
const eventTypesPerPage = 200

// eventTypeGroup is the types of a list page that share a group.
type eventTypeGroup struct {
	Name  string // "" for the types without a group
	Types []*store.EventType
}

// eventTypeListData is the content of the catalog page.
type eventTypeListData struct {
	Groups []eventTypeGroup
	Prefix string
	Next   string
}

// listEventTypes shows the event catalog, grouped by prefix. Every
// session may read it: tenants subscribe from it.
func (u *UI) listEventTypes(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	ts, next, err := u.store.ListEventTypes(r.Context(), store.EventTypeFilter{Prefix: q.Get("prefix"), Limit: eventTypesPerPage, Cursor: q.Get("cursor")})
	if err != nil {
		return fmt.Errorf("list event types: %w", err)
	}
	d := &eventTypeListData{Prefix: q.Get("prefix"), Next: next}
	for _, t := range ts {
		g := catalog.Group(t.Name)
		if n := len(d.Groups); n == 0 || d.Groups[n-1].Name != g {
			d.Groups = append(d.Groups, eventTypeGroup{Name: g})
		}
		d.Groups[len(d.Groups)-1].Types = append(d.Groups[len(d.Groups)-1].Types, t)
	}
	u.render(w, r, s, http.StatusOK, "event_types", d)
	return nil
}

// eventTypeData is the content of an event type's page.
type eventTypeData struct {
	T         *store.EventType
	Endpoints []*store.Endpoint // for "Send example", admin only
	Group     string
	Schema    string // indented, "" for none
	Example   string
}

func (u *UI) showEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := u.store.GetEventType(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("get event type: %w", err)
	}
	d := &eventTypeData{T: t, Group: catalog.Group(t.Name), Schema: indentJSON(t.Schema), Example: indentJSON(t.Example)}
	if s.admin() && t.Example != nil {
		if d.Endpoints, err = u.exampleEndpoints(r); err != nil {
			return err
		}
	}
	u.render(w, r, s, http.StatusOK, "event_type", d)
	return nil
}

// indentJSON indents JSON for reading, as it is if it cannot.
func indentJSON(b []byte) string {
	if b == nil {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// catalogFilters returns what an endpoint form offers as event type
// filters: the catalog's types and their groups' prefixes (see
// catalog.Filters). A catalog that cannot be read offers nothing: the
// form works without it.
func (u *UI) catalogFilters(r *http.Request) []string {
	var all []*store.EventType
	f := store.EventTypeFilter{Limit: 1000}
	for range 10 { // at most 10,000 types
		ts, next, err := u.store.ListEventTypes(r.Context(), f)
		if err != nil {
			u.log.WarnContext(r.Context(), "ui: read the event catalog for the endpoint form", "error", err)
			return nil
		}
		all = append(all, ts...)
		if next == "" {
			break
		}
		f.Cursor = next
	}
	return catalog.Filters(all)
}

// eventTypeForm is the event type form as typed: the schema and example
// as the text of their textareas, "" for none.
type eventTypeForm struct {
	Name, Description, Schema, Example string
	Deprecated, Enforce                bool
}

// eventTypeFormData is the content of the event type form.
type eventTypeFormData struct {
	Form   eventTypeForm
	T      *store.EventType // nil: a new type
	Errors []string
}

func readEventTypeForm(r *http.Request) eventTypeForm {
	f := r.PostForm
	return eventTypeForm{
		Name: strings.TrimSpace(f.Get("name")), Description: f.Get("description"),
		Schema: textarea(f.Get("schema")), Example: textarea(f.Get("example")),
		Deprecated: f.Get("deprecated") == "on", Enforce: f.Get("enforce") == "on",
	}
}

// textarea is a textarea's text as the page showed it: browsers send its
// line breaks as CRLF.
func textarea(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
}

// rawOrNil is a textarea's JSON, nil for an empty one. Whether it is JSON
// at all is internal/catalog's to say.
func rawOrNil(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

// eventTypeField labels the fields of internal/catalog's errors.
var eventTypeField = map[string]string{"schema": "JSON Schema", "example": "Example payload", "enforce": "Enforce", "deprecated": "Deprecated"}

// eventTypeMessages says catalog field errors in the form's words.
func eventTypeMessages(err error) []string {
	fs := rules.Fields(err)
	if fs == nil {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		l, ok := eventTypeField[f.Field]
		if !ok {
			l = label(f.Field)
		}
		out[i] = l + " " + f.Reason
	}
	return out
}

func (u *UI) newEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	u.render(w, r, s, http.StatusOK, "event_type_form", &eventTypeFormData{})
	return nil
}

// createEventType adds a type to the catalog through internal/catalog, as
// POST /api/v1/event-types does.
func (u *UI) createEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	f := readEventTypeForm(r)
	t, err := u.catalog.Create(r.Context(), catalog.Spec{Name: f.Name, Description: f.Description,
		Schema: rawOrNil(f.Schema), Example: rawOrNil(f.Example), Deprecated: f.Deprecated, Enforce: f.Enforce})
	var errs []string
	switch {
	case errors.Is(err, store.ErrConflict):
		errs = []string{fmt.Sprintf("An event type called %q exists already.", f.Name)}
	case err != nil:
		if errs = eventTypeMessages(err); errs == nil {
			return fmt.Errorf("create event type: %w", err)
		}
	}
	if len(errs) > 0 {
		u.render(w, r, s, http.StatusUnprocessableEntity, "event_type_form", &eventTypeFormData{Form: f, Errors: errs})
		return nil
	}
	u.log.InfoContext(r.Context(), "ui: event type created", "event_type", t.Name)
	u.redirect(w, r, u.path("/event-types/%s", t.Name), "type_created", -1)
	return nil
}

func (u *UI) eventType(r *http.Request) (*store.EventType, error) {
	t, err := u.store.GetEventType(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, notFoundOr(err, "get event type", r.PathValue("name"))
	}
	return t, nil
}

func (u *UI) editEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := u.eventType(r)
	if err != nil {
		return err
	}
	f := eventTypeForm{Name: t.Name, Description: t.Description, Schema: indentJSON(t.Schema), Example: indentJSON(t.Example),
		Deprecated: t.Deprecated, Enforce: t.Enforce}
	u.render(w, r, s, http.StatusOK, "event_type_form", &eventTypeFormData{Form: f, T: t})
	return nil
}

// updateEventType writes the form's fields through internal/catalog, as
// PATCH /api/v1/event-types/{name} does; an emptied textarea clears.
func (u *UI) updateEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := u.eventType(r)
	if err != nil {
		return err
	}
	f := readEventTypeForm(r)
	f.Name = t.Name
	ch := catalog.Change{Description: &f.Description, Deprecated: &f.Deprecated, Enforce: &f.Enforce}
	// A textarea left as the edit form showed it keeps the stored text
	// byte for byte; the form shows it indented.
	if f.Schema != strings.TrimSpace(indentJSON(t.Schema)) {
		schema := rawOrNil(f.Schema)
		ch.Schema = &schema
	}
	if f.Example != strings.TrimSpace(indentJSON(t.Example)) {
		example := rawOrNil(f.Example)
		ch.Example = &example
	}
	_, err = u.catalog.Update(r.Context(), t.Name, ch)
	if err != nil {
		errs := eventTypeMessages(err)
		if errs == nil {
			return notFoundOr(err, "update event type", t.Name)
		}
		u.render(w, r, s, http.StatusUnprocessableEntity, "event_type_form", &eventTypeFormData{Form: f, T: t, Errors: errs})
		return nil
	}
	u.log.InfoContext(r.Context(), "ui: event type updated", "event_type", t.Name)
	u.redirect(w, r, u.path("/event-types/%s", t.Name), "type_updated", -1)
	return nil
}

func (u *UI) confirmDeleteEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := u.eventType(r)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "event_type_delete", t)
	return nil
}

func (u *UI) deleteEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	if err := u.catalog.Delete(r.Context(), name); err != nil {
		return notFoundOr(err, "delete event type", name)
	}
	u.log.InfoContext(r.Context(), "ui: event type deleted", "event_type", name)
	u.redirect(w, r, u.path("/event-types"), "type_deleted", -1)
	return nil
}

// sendExample sends a type's example payload to the endpoint the form
// names, as POST /api/v1/event-types/{name}/send-example does: an event of
// that type with one delivery, signed, recorded and retried like any
// other, whatever the endpoint's event type filter. It answers with the
// delivery's page.
func (u *UI) sendExample(w http.ResponseWriter, r *http.Request, s *session) error {
	name := r.PathValue("name")
	_, ds, err := catalog.SendExample(r.Context(), u.store, name, r.PostForm.Get("endpoint_id"), u.now())
	switch {
	case errors.Is(err, catalog.ErrNoExample):
		return &pageError{http.StatusBadRequest, "This event type has no example payload. Edit it to add one."}
	case errors.Is(err, catalog.ErrEndpointDisabled):
		return &pageError{http.StatusConflict, "This endpoint is disabled. Enable it before sending an example."}
	case err != nil:
		return notFoundOr(err, "send example", name)
	}
	if len(ds) != 1 {
		return fmt.Errorf("send example of %s: store made %d deliveries, want 1", name, len(ds))
	}
	u.notify()
	u.redirect(w, r, u.path("/deliveries/%s", ds[0].ID), "example_sent", -1)
	return nil
}

// exampleEndpoints lists the endpoints an admin may send an example to.
func (u *UI) exampleEndpoints(r *http.Request) ([]*store.Endpoint, error) {
	eps, _, err := u.store.ListEndpoints(r.Context(), store.EndpointFilter{Page: store.Page{Limit: 500}})
	if err != nil {
		return nil, fmt.Errorf("list endpoints: %w", err)
	}
	return eps, nil
}
