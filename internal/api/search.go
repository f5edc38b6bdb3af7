package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/hookrelay/hookrelay/internal/store"
)

// payloadParams reads the payload field conditions of a list request: each
// query parameter payload.PATH=VALUE (payload.order.id=123). VALUE is a JSON
// string in quotes ("123" is the string), a number (compared by exact
// value: 123 matches 123.0), true, false or null, or else a string as
// given. The store checks that each PATH is searchable.
func payloadParams(r *http.Request) ([]store.FieldMatch, error) {
	var out []store.FieldMatch
	q := r.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		if strings.HasPrefix(k, "payload.") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := strings.TrimPrefix(k, "payload.")
		for _, v := range q[k] {
			key, err := store.ParseFieldValue(v)
			if err != nil {
				return nil, badRequest("%s: %v", k, err)
			}
			out = append(out, store.FieldMatch{Path: path, Key: key})
		}
	}
	if len(out) > store.MaxFieldMatches {
		return nil, badRequest("%d payload conditions: at most %d", len(out), store.MaxFieldMatches)
	}
	return out, nil
}

// searchError translates the store's errors of a search: a path that is
// not searchable or a bad cursor is the request's fault.
func searchError(err error, cursor string) error {
	switch {
	case errors.Is(err, store.ErrNotSearchable):
		msg := err.Error()
		if i := strings.Index(msg, store.ErrNotSearchable.Error()); i >= 0 {
			msg = msg[i:]
		}
		return badRequest("%s", msg)
	case errors.Is(err, store.ErrBadCursor):
		return badRequest("cursor %q: not a cursor of this list", cursor)
	}
	return storeError(err, "cursor", cursor)
}

// listEvents lists events, newest first: GET /api/v1/events with type
// (exact, or a prefix ending in ".*"), tenant, since, until, endpoint_id
// (events with a delivery to it), status (events with a delivery in that
// status), payload.PATH=VALUE conditions, limit and cursor. The payloads
// are not listed: GET /api/v1/events/{id} answers one byte for byte.
func (a *API) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	lq, visible, err := listParams(r)
	if err != nil {
		return err
	}
	if !visible {
		writeJSON(w, http.StatusOK, list[eventJSON]{Data: []eventJSON{}})
		return nil
	}
	f := store.EventFilter{Page: lq.Page, Tenant: lq.Tenant, Since: lq.Since, Until: lq.Until, Status: lq.Status}
	if f.Type = q.Get("type"); len(f.Type) > maxEventTypeLen {
		return badRequest("type is longer than %d bytes", maxEventTypeLen)
	}
	f.EndpointID = q.Get("endpoint_id")
	if f.Payload, err = payloadParams(r); err != nil {
		return err
	}
	evs, next, err := a.store.ListEvents(r.Context(), f)
	if err != nil {
		return searchError(err, f.Cursor)
	}
	out := list[eventJSON]{Data: make([]eventJSON, len(evs)), NextCursor: next}
	for i, ev := range evs {
		out.Data[i] = toEventJSON(ev)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
