package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// deliveryJSON is a delivery in responses. LastAttempt summarizes its
// latest attempt in lists; Attempts lists them all when one delivery is
// asked for.
type deliveryJSON struct {
	ID            string               `json:"id"`
	EventID       string               `json:"event_id"`
	EndpointID    string               `json:"endpoint_id"`
	Tenant        string               `json:"tenant"`
	EventType     string               `json:"event_type"`
	Status        store.DeliveryStatus `json:"status"`
	AttemptCount  int                  `json:"attempt_count"`
	NextAttemptAt *time.Time           `json:"next_attempt_at,omitempty"`
	LastStatus    int                  `json:"last_status,omitempty"`
	LastError     string               `json:"last_error,omitempty"`
	FIFO          bool                 `json:"fifo"`
	CreatedAt     time.Time            `json:"created_at"`
	UpdatedAt     time.Time            `json:"updated_at"`
	CompletedAt   *time.Time           `json:"completed_at,omitempty"`
	LastAttempt   *attemptJSON         `json:"last_attempt,omitempty"`
	Attempts      []attemptJSON        `json:"attempts,omitempty"`
}

// attemptJSON is one attempt in responses.
type attemptJSON struct {
	ID             string            `json:"id"`
	Number         int               `json:"number"`
	StartedAt      time.Time         `json:"started_at"`
	DurationMS     float64           `json:"duration_ms"`
	URL            string            `json:"url"`
	RequestHeaders map[string]string `json:"request_headers,omitempty"`
	StatusCode     int               `json:"status_code,omitempty"`
	Error          string            `json:"error,omitempty"`
	ResponseBody   string            `json:"response_body"`
	Trigger        string            `json:"trigger"`
}

func toDeliveryJSON(d *store.Delivery) deliveryJSON {
	out := deliveryJSON{
		ID:           d.ID,
		EventID:      d.EventID,
		EndpointID:   d.EndpointID,
		Tenant:       d.Tenant,
		EventType:    d.EventType,
		Status:       d.Status,
		AttemptCount: d.Attempts,
		LastStatus:   d.LastStatus,
		LastError:    d.LastError,
		FIFO:         d.FIFO,
		CreatedAt:    utc(d.CreatedAt),
		UpdatedAt:    utc(d.UpdatedAt),
		CompletedAt:  utcPtr(d.CompletedAt),
	}
	if d.Status == store.StatusPending {
		out.NextAttemptAt = utcPtr(&d.NextAttemptAt)
	}
	return out
}

func toAttemptJSON(at *store.Attempt) attemptJSON {
	return attemptJSON{
		ID:             at.ID,
		Number:         at.Number,
		StartedAt:      utc(at.StartedAt),
		DurationMS:     float64(at.Duration.Microseconds()) / 1000,
		URL:            at.URL,
		RequestHeaders: at.RequestHeaders,
		StatusCode:     at.StatusCode,
		Error:          at.Error,
		ResponseBody:   string(at.ResponseBody),
		Trigger:        at.Trigger,
	}
}

// listDeliveriesWith answers a list request with filter f completed from
// the query: status, event_type, since, until, tenant, limit and cursor.
func (a *API) listDeliveriesWith(w http.ResponseWriter, r *http.Request, f store.DeliveryFilter) error {
	q := r.URL.Query()
	lq, visible, err := listParams(r)
	if err != nil {
		return err
	}
	if !visible {
		writeJSON(w, http.StatusOK, list[deliveryJSON]{Data: []deliveryJSON{}})
		return nil
	}
	f.Page, f.Tenant, f.Since, f.Until, f.Status = lq.Page, lq.Tenant, lq.Since, lq.Until, lq.Status
	f.EventType = q.Get("event_type")
	if len(f.EventType) > maxEventTypeLen {
		return badRequest("event_type is longer than %d bytes", maxEventTypeLen)
	}
	if f.Payload, err = payloadParams(r); err != nil {
		return err
	}
	ds, next, err := a.store.ListDeliveries(r.Context(), f)
	if err != nil {
		return searchError(err, f.Cursor)
	}
	out := list[deliveryJSON]{Data: make([]deliveryJSON, len(ds)), NextCursor: next}
	for i, d := range ds {
		out.Data[i] = toDeliveryJSON(d)
		if d.Attempts == 0 {
			continue
		}
		ats, err := a.store.ListAttempts(r.Context(), d.ID)
		if err != nil {
			return fmt.Errorf("list attempts of %s: %w", d.ID, err)
		}
		if len(ats) > 0 {
			last := toAttemptJSON(ats[len(ats)-1])
			last.RequestHeaders = nil
			out.Data[i].LastAttempt = &last
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	return a.listDeliveriesWith(w, r, store.DeliveryFilter{EndpointID: q.Get("endpoint_id"), EventID: q.Get("event_id")})
}

func (a *API) listEndpointDeliveries(w http.ResponseWriter, r *http.Request) error {
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	return a.listDeliveriesWith(w, r, store.DeliveryFilter{EndpointID: e.ID, EventID: r.URL.Query().Get("event_id")})
}

func (a *API) listEventDeliveries(w http.ResponseWriter, r *http.Request) error {
	ev, err := a.event(r)
	if err != nil {
		return err
	}
	return a.listDeliveriesWith(w, r, store.DeliveryFilter{EventID: ev.ID, EndpointID: r.URL.Query().Get("endpoint_id")})
}

// delivery loads the delivery named by the {id} path value; one of
// another tenant than the caller's is not found.
func (a *API) delivery(r *http.Request) (*store.Delivery, error) {
	id := r.PathValue("id")
	d, err := a.store.GetDelivery(r.Context(), id)
	if err == nil && !principalOf(r).Sees(d.Tenant) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, storeError(err, "delivery", id)
	}
	noteTenant(r, d.Tenant)
	return d, nil
}

func (a *API) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := a.delivery(r)
	if err != nil {
		return err
	}
	id := d.ID
	ats, err := a.store.ListAttempts(r.Context(), id)
	if err != nil {
		return fmt.Errorf("list attempts of %s: %w", id, err)
	}
	out := toDeliveryJSON(d)
	out.Attempts = make([]attemptJSON, len(ats))
	for i, at := range ats {
		out.Attempts[i] = toAttemptJSON(at)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := a.delivery(r)
	if err != nil {
		return err
	}
	id := d.ID
	d, err = a.store.RetryDelivery(r.Context(), id, a.now())
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "delivery " + id + " cannot be retried now: it is in flight, canceled, or its endpoint is deleted"}
	}
	if err != nil {
		return storeError(err, "delivery", id)
	}
	a.notify()
	writeJSON(w, http.StatusAccepted, toDeliveryJSON(d))
	return nil
}

// replayRequest is the body of POST /api/v1/endpoints/{id}/replay.
type replayRequest struct {
	replayWindow
	Status []string `json:"status"`
}

// replayResponse says how many failed deliveries were made due again.
type replayResponse struct {
	Replayed int `json:"replayed"`
	// Scanned is how many failed (or canceled) deliveries of the window
	// it looked at.
	Scanned int `json:"scanned"`
	// Complete is false when the call stopped before the end of the
	// window: call again with after = next_cursor, or use a replay job
	// (POST /api/v1/replays) for a large window.
	Complete   bool   `json:"complete"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// replayEndpoint makes the endpoint's failed deliveries of a window due
// again, batch after batch, each batch one transaction; it stops after
// half the request's time and says where.
func (a *API) replayEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req replayRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	until, types, err := req.check("replay", "failed deliveries")
	if err != nil {
		return err
	}
	p := store.ReplayFailedParams{Since: req.Since, Until: until, EventTypes: types, After: req.After}
	for _, s := range req.Status {
		p.Statuses = append(p.Statuses, store.DeliveryStatus(s))
	}
	if _, err := store.ReplayStatuses(p.Statuses); err != nil {
		return invalid("%v", err)
	}
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	p.EndpointID, p.Now = e.ID, a.now()
	stop := time.Now().Add(a.timeout / 2)
	var out replayResponse
	defer func() {
		if out.Replayed > 0 {
			a.notify()
		}
	}()
	for {
		res, err := a.store.ReplayFailedBatch(r.Context(), p)
		if err != nil {
			return fmt.Errorf("replay failed deliveries of %s: %w", e.ID, err)
		}
		out.Replayed += res.Queued
		out.Scanned += res.Scanned
		if res.Next == "" {
			out.Complete = true
			break
		}
		p.After = res.Next
		if time.Now().After(stop) || r.Context().Err() != nil {
			out.NextCursor = res.Next
			break
		}
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}
