package ui

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
)

// TestEventType is the type of the events the dashboard's "Send test
// event" button sends.
const TestEventType = "hookrelay.test"

// Page sizes and bounds of the delivery pages.
const (
	deliveriesPerPage = 50
	// maxReplayEndpoints bounds how many endpoints one "replay all" walks.
	maxReplayEndpoints = 10000
)

// deliveryFilterForm is the delivery list's filter as typed.
type deliveryFilterForm struct {
	EndpointID string
	EventType  string
	Status     string
	Since      string
	Until      string
	// Payload is PATH=VALUE, a payload field condition (order.id=123).
	Payload string
}

// query returns the filter as a query string, with cursor if set.
func (f deliveryFilterForm) query(cursor string) string {
	q := url.Values{}
	for k, v := range map[string]string{"endpoint_id": f.EndpointID, "event_type": f.EventType, "status": f.Status, "since": f.Since, "until": f.Until, "payload": f.Payload, "cursor": cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q.Encode()
}

// deliveryRow is a delivery with its endpoint's URL, when it still exists.
type deliveryRow struct {
	D   *store.Delivery
	URL string
}

// deliveryListData is the delivery list's content.
type deliveryListData struct {
	Filter    deliveryFilterForm
	Rows      []deliveryRow
	Endpoints []*store.Endpoint // for the filter's and replay's choices
	NextQuery string            // query of the next page, "" at the end
	Errors    []string
	Statuses  []store.DeliveryStatus
	// ReplaySince is the replay form's default time.
	ReplaySince time.Time
}

// timeLayouts are the forms a time may be typed in: a datetime-local
// input's, with or without seconds (taken as UTC), or RFC 3339.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02", time.RFC3339}

// parseTime reads a time typed in a form; "" is the zero time.
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s: %q is not a time like 2026-01-31T14:05 (UTC)", field, s)
}

// listDeliveries shows the deliveries the session sees, filtered by
// endpoint, event type, status and creation time.
func (u *UI) listDeliveries(w http.ResponseWriter, r *http.Request, s *session) error {
	q := r.URL.Query()
	ff := deliveryFilterForm{
		EndpointID: q.Get("endpoint_id"),
		EventType:  strings.TrimSpace(q.Get("event_type")),
		Status:     q.Get("status"),
		Since:      q.Get("since"),
		Until:      q.Get("until"),
		Payload:    strings.TrimSpace(q.Get("payload")),
	}
	data := &deliveryListData{
		Filter:      ff,
		Statuses:    []store.DeliveryStatus{store.StatusPending, store.StatusSucceeded, store.StatusFailed, store.StatusCanceled},
		ReplaySince: u.now().Add(-24 * time.Hour).UTC(),
	}
	f := store.DeliveryFilter{
		Tenant:     s.tenantFilter(),
		EndpointID: ff.EndpointID,
		EventType:  ff.EventType,
		Page:       store.Page{Limit: deliveriesPerPage, Cursor: q.Get("cursor")},
	}
	var err error
	if f.Since, err = parseTime("since", ff.Since); err != nil {
		data.Errors = append(data.Errors, err.Error())
	}
	if f.Until, err = parseTime("until", ff.Until); err != nil {
		data.Errors = append(data.Errors, err.Error())
	}
	switch st := store.DeliveryStatus(ff.Status); st {
	case "", store.StatusPending, store.StatusSucceeded, store.StatusFailed, store.StatusCanceled:
		f.Status = st
	default:
		data.Errors = append(data.Errors, fmt.Sprintf("status %q is not one of pending, succeeded, failed, canceled", ff.Status))
	}
	if ff.Payload != "" {
		path, v, ok := strings.Cut(ff.Payload, "=")
		key, err := store.ParseFieldValue(v)
		switch {
		case !ok || path == "":
			data.Errors = append(data.Errors, "payload field: write PATH=VALUE, such as order.id=123")
		case err != nil:
			data.Errors = append(data.Errors, "payload field: "+err.Error())
		default:
			f.Payload = []store.FieldMatch{{Path: strings.TrimSpace(path), Key: key}}
			if err := store.CheckFieldMatches(f.Payload, u.store.SearchFields()); err != nil {
				data.Errors = append(data.Errors, "payload field: "+err.Error())
			}
		}
	}
	if len(ff.EventType) > rules.MaxEventTypeLen {
		data.Errors = append(data.Errors, "event type is too long")
	}
	eps, _, err := u.store.ListEndpoints(r.Context(), store.EndpointFilter{Tenant: s.tenantFilter(), Page: store.Page{Limit: 1000}})
	if err != nil {
		return fmt.Errorf("list endpoints: %w", err)
	}
	data.Endpoints = eps
	if len(data.Errors) > 0 {
		u.render(w, r, s, http.StatusBadRequest, "deliveries", data)
		return nil
	}
	ds, next, err := u.store.ListDeliveries(r.Context(), f)
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{http.StatusBadRequest, "That page of the list no longer exists. Start again from the first page."}
	}
	if err != nil {
		return fmt.Errorf("list deliveries: %w", err)
	}
	urls := make(map[string]string, len(eps))
	for _, e := range eps {
		urls[e.ID] = e.URL
	}
	data.Rows = make([]deliveryRow, len(ds))
	for i, d := range ds {
		data.Rows[i] = deliveryRow{D: d, URL: urls[d.EndpointID]}
	}
	if next != "" {
		data.NextQuery = ff.query(next)
	}
	u.render(w, r, s, http.StatusOK, "deliveries", data)
	return nil
}

// deliveryFor loads the delivery named by the {id} path value, and answers
// 404 if the session may not see it.
func (u *UI) deliveryFor(r *http.Request, s *session) (*store.Delivery, error) {
	id := r.PathValue("id")
	d, err := u.store.GetDelivery(r.Context(), id)
	if err != nil {
		return nil, notFoundOr(err, "get delivery", id)
	}
	if !s.sees(d.Tenant) {
		return nil, errNotFound
	}
	return d, nil
}

// attemptView is an attempt with what the page needs to show it: its
// request headers in a stable order, the signature headers marked.
type attemptView struct {
	A       *store.Attempt
	Headers []headerView
	// Open shows the headers and body unfolded.
	Open bool
}

// headerView is one request header.
type headerView struct {
	Name  string
	Value string
	// Role is "signature" for the header that carries the signature,
	// "signed" for one whose value is signed with it (message ID,
	// timestamp), "" otherwise.
	Role string
}

// deliveryData is the delivery page's content.
type deliveryData struct {
	D        *store.Delivery
	Event    *store.Event
	Payload  string
	Endpoint *store.Endpoint // nil if deleted
	Attempts []attemptView
	// Waiting is true while the page waits for an attempt to appear or
	// for a pending delivery to finish; it then refreshes itself.
	Waiting bool
}

// showDelivery shows a delivery and its attempts; while it is pending the
// page keeps itself up to date.
func (u *UI) showDelivery(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.deliveryFor(r, s)
	if err != nil {
		return err
	}
	ats, err := u.store.ListAttempts(r.Context(), d.ID)
	if err != nil {
		return fmt.Errorf("list attempts of %s: %w", d.ID, err)
	}
	data := &deliveryData{D: d, Waiting: d.Status == store.StatusPending}
	if ev, err := u.store.GetEvent(r.Context(), d.EventID); err == nil {
		data.Event = ev
		data.Payload = prettyJSON(ev.Payload)
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("get event %s: %w", d.EventID, err)
	}
	var sigHeaders []string
	if e, err := u.store.GetEndpoint(r.Context(), d.EndpointID); err == nil {
		data.Endpoint = e
		if sc, err := schemes.Resolve(e.Scheme, e.CustomScheme); err == nil && sc != nil {
			sigHeaders = sc.Headers()
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("get endpoint %s: %w", d.EndpointID, err)
	}
	// Newest first, so that a new attempt appears at the top; only the
	// newest shows its headers and body unfolded.
	for i := len(ats) - 1; i >= 0; i-- {
		v := viewAttempt(ats[i], sigHeaders)
		v.Open = i == len(ats)-1
		data.Attempts = append(data.Attempts, v)
	}
	u.render(w, r, s, http.StatusOK, "delivery", data)
	return nil
}

// viewAttempt prepares an attempt for the page. sigHeaders are the
// scheme's headers (signature.Scheme.Headers): the signed ones, then the
// one carrying the signature.
func viewAttempt(at *store.Attempt, sigHeaders []string) attemptView {
	return attemptView{A: at, Open: true, Headers: headerViews(at.RequestHeaders, sigHeaders)}
}

// headerViews returns headers sorted by name, those of sigHeaders (a
// scheme's signature.Scheme.Headers: the signed ones, then the one
// carrying the signature) marked.
func headerViews(headers map[string]string, sigHeaders []string) []headerView {
	var out []headerView
	for name, value := range headers {
		role := ""
		for i, h := range sigHeaders {
			if strings.EqualFold(h, name) {
				role = "signed"
				if i == len(sigHeaders)-1 {
					role = "signature"
				}
			}
		}
		out = append(out, headerView{Name: name, Value: value, Role: role})
	}
	sortHeaders(out)
	return out
}

// sortHeaders orders headers by name.
func sortHeaders(hs []headerView) {
	for i := 1; i < len(hs); i++ {
		for j := i; j > 0 && strings.ToLower(hs[j].Name) < strings.ToLower(hs[j-1].Name); j-- {
			hs[j], hs[j-1] = hs[j-1], hs[j]
		}
	}
}

// prettyJSON indents a JSON payload for reading; other bytes are returned
// as they are.
func prettyJSON(b []byte) string {
	var v json.RawMessage
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(v) != nil {
		return string(b)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// retry makes a delivery due now: a failed one gets another attempt.
func (u *UI) retry(w http.ResponseWriter, r *http.Request, s *session) error {
	d, err := u.deliveryFor(r, s)
	if err != nil {
		return err
	}
	if _, err := u.store.RetryDelivery(r.Context(), d.ID, u.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &pageError{http.StatusConflict, "This delivery cannot be retried now: it is in flight, canceled, or its endpoint was deleted."}
		}
		return notFoundOr(err, "retry delivery", d.ID)
	}
	u.notify()
	u.redirect(w, r, u.path("/deliveries/%s", d.ID), "retried", -1)
	return nil
}

// replay makes the failed deliveries created since a time due again: of
// one endpoint, or of every endpoint the session sees.
func (u *UI) replay(w http.ResponseWriter, r *http.Request, s *session) error {
	since, err := parseTime("since", r.PostForm.Get("since"))
	if err != nil {
		return &pageError{http.StatusBadRequest, err.Error()}
	}
	if since.IsZero() {
		return &pageError{http.StatusBadRequest, "Say since when failed deliveries are to be replayed."}
	}
	var ids []string
	back := u.path("/deliveries")
	if id := r.PostForm.Get("endpoint_id"); id != "" {
		e, err := u.store.GetEndpoint(r.Context(), id)
		if err != nil {
			return notFoundOr(err, "get endpoint", id)
		}
		if !s.sees(e.Tenant) {
			return errNotFound
		}
		ids = []string{e.ID}
		back += "?" + deliveryFilterForm{EndpointID: e.ID, Status: string(store.StatusPending)}.query("")
	} else {
		f := store.EndpointFilter{Tenant: s.tenantFilter(), Page: store.Page{Limit: 1000}}
		for {
			eps, next, err := u.store.ListEndpoints(r.Context(), f)
			if err != nil {
				return fmt.Errorf("list endpoints: %w", err)
			}
			for _, e := range eps {
				ids = append(ids, e.ID)
			}
			if next == "" || len(ids) >= maxReplayEndpoints {
				break
			}
			f.Cursor = next
		}
	}
	now := u.now()
	total := 0
	for _, id := range ids {
		n, err := u.store.ReplayFailed(r.Context(), id, since, now)
		if err != nil {
			return fmt.Errorf("replay failed deliveries of %s: %w", id, err)
		}
		total += n
	}
	if total == 0 {
		u.redirect(w, r, back, "nonereplay", -1)
		return nil
	}
	u.notify()
	u.log.InfoContext(r.Context(), "ui: replayed failed deliveries", "count", total, "since", since)
	u.redirect(w, r, back, "replayed", total)
	return nil
}

// testPayload is the body of a test event.
func testPayload(e *store.Endpoint, id string, now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"type":        TestEventType,
		"id":          id,
		"endpoint_id": e.ID,
		"timestamp":   now.UTC().Format(time.RFC3339),
		"data":        map[string]string{"message": "This is a test event sent from the hookrelay dashboard."},
	})
	return b
}

// sendTest sends a test event to one endpoint, whatever its event type
// filter: a real delivery, recorded and retried like any other, whose page
// the browser goes to, to watch the attempt appear.
func (u *UI) sendTest(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	disabled := &pageError{http.StatusConflict, "This endpoint is disabled. Enable it before sending a test event."}
	if e.Disabled {
		return disabled
	}
	now := u.now()
	ev := &store.Event{ID: store.NewID("evt"), Tenant: e.Tenant, Type: TestEventType, CreatedAt: now}
	ev.Payload = testPayload(e, ev.ID, now)
	_, ds, err := u.store.CreateEventFor(r.Context(), ev, []string{e.ID})
	if errors.Is(err, store.ErrNotFound) {
		return disabled // or deleted, since it was read
	}
	if err != nil {
		return fmt.Errorf("create test event for %s: %w", e.ID, err)
	}
	if len(ds) != 1 || ds[0].EndpointID != e.ID {
		return fmt.Errorf("create test event for %s: store made %d deliveries, want 1 to this endpoint", e.ID, len(ds))
	}
	u.notify()
	u.redirect(w, r, u.path("/deliveries/%s", ds[0].ID), "testsent", -1)
	return nil
}

// eraseEvent erases an event's payload on request, as DELETE
// /api/v1/events/{id}/payload does (store.Erasure.EraseEvent): payload,
// headers and its attempts' bodies go, the metadata stays, its pending
// deliveries are canceled. It answers with the delivery page the form was
// on.
func (u *UI) eraseEvent(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	if _, err := u.store.EraseEvent(r.Context(), id, u.now()); err != nil {
		return notFoundOr(err, "erase event", id)
	}
	u.log.InfoContext(r.Context(), "ui: event payload erased", "event_id", id)
	back := u.path("/deliveries")
	if d, err := u.store.GetDelivery(r.Context(), r.PostForm.Get("delivery_id")); err == nil && d.EventID == id {
		back = u.path("/deliveries/%s", d.ID)
	}
	u.redirect(w, r, back, "erased", -1)
	return nil
}
