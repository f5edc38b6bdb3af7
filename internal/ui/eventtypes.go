package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/hookrelay/hookrelay/internal/catalog"
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
	T       *store.EventType
	Group   string
	Schema  string // indented, "" for none
	Example string
}

func (u *UI) showEventType(w http.ResponseWriter, r *http.Request, s *session) error {
	t, err := u.store.GetEventType(r.Context(), r.PathValue("name"))
	if errors.Is(err, store.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return fmt.Errorf("get event type: %w", err)
	}
	u.render(w, r, s, http.StatusOK, "event_type", &eventTypeData{T: t, Group: catalog.Group(t.Name), Schema: indentJSON(t.Schema), Example: indentJSON(t.Example)})
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
