package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/catalog"
	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/jsoncanon"
)

// createEventRequest is the body of POST /api/v1/events. Payload keeps the
// exact JSON text of the request's "payload" member.
type createEventRequest struct {
	Type           string          `json:"type"`
	Payload        json.RawMessage `json:"payload"`
	Tenant         *string         `json:"tenant"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// eventJSON is an event in responses, without its payload, which
// writeEvent splices in verbatim.
type eventJSON struct {
	ID             string    `json:"id"`
	Tenant         string    `json:"tenant"`
	Type           string    `json:"type"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// Deliveries is how many deliveries the event created; only in the
	// response that created it.
	Deliveries *int `json:"deliveries,omitempty"`
	// Duplicate says the request repeated an idempotency key and this is
	// the earlier event; nothing was created.
	Duplicate bool `json:"duplicate,omitempty"`
	// ContentType is set for inbound events: the media type of the body
	// the source sent.
	ContentType string `json:"content_type,omitempty"`
	// PayloadEncoding is set when the payload is not JSON (an inbound
	// event's form or binary body): "text" when "payload" is its text in
	// a JSON string, "base64" when it is its base64.
	PayloadEncoding string `json:"payload_encoding,omitempty"`
	// ErasedAt is when the payload was erased (DELETE
	// /api/v1/events/{id}/payload); an erased event has no "payload".
	ErasedAt *time.Time `json:"erased_at,omitempty"`
}

func toEventJSON(ev *store.Event) eventJSON {
	return eventJSON{
		ID:             ev.ID,
		Tenant:         ev.Tenant,
		Type:           ev.Type,
		IdempotencyKey: ev.IdempotencyKey,
		CreatedAt:      utc(ev.CreatedAt),
		ContentType:    ev.ContentType,
		ErasedAt:       utcPtr(ev.ErasedAt),
	}
}

// tracedCreateEvent is createEvent in a span of its own, when tracing.
func (a *API) tracedCreateEvent(w http.ResponseWriter, r *http.Request) error {
	return a.traced(w, r, "POST /api/v1/events", a.createEvent)
}

// tracedCreateEvents is createEvents (a batch) in a span of its own, when
// tracing.
func (a *API) tracedCreateEvents(w http.ResponseWriter, r *http.Request) error {
	return a.traced(w, r, "POST /api/v1/events/batch", a.createEvents)
}

// traced runs h in a request span named name, when tracing.
func (a *API) traced(w http.ResponseWriter, r *http.Request, name string, h handlerFunc) error {
	if a.tracer == nil {
		return h(w, r)
	}
	ctx, end := a.tracer.StartRequest(r.Context(), r, name)
	err := h(w, r.WithContext(ctx))
	status := http.StatusAccepted
	if err != nil {
		status = http.StatusInternalServerError
		if e, ok := errors.AsType[*Error](err); ok {
			status = e.Status
		}
	}
	end(status)
	return err
}

func (a *API) createEvent(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, a.maxPayload+eventEnvelopeBytes)
	if err != nil {
		return err
	}
	var req createEventRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = r.Header.Get("Idempotency-Key")
	}
	ev, err := a.newEvent(r, &req, a.catalog.Checker())
	if err != nil {
		return err
	}
	now := ev.CreatedAt
	ctx := r.Context()
	var endStore func(error)
	if a.tracer != nil {
		ctx, endStore = a.tracer.StartStorage(ctx, "store event")
	}
	stored, deliveries, err := a.store.CreateEvent(ctx, ev, now.Add(-a.idemWindow))
	if endStore != nil {
		if errors.Is(err, store.ErrConflict) {
			endStore(nil) // a duplicate: stored before, not a failure
		} else {
			endStore(err)
		}
	}
	if errors.Is(err, store.ErrConflict) && stored != nil {
		out := toEventJSON(stored)
		out.Duplicate = true
		w.Header().Set("Idempotent-Replayed", "true")
		return writeEvent(w, http.StatusAccepted, out, nil)
	}
	if err != nil {
		return fmt.Errorf("create event: %w", err)
	}
	if stored == nil {
		stored = ev
	}
	if store.AnyUnclaimed(deliveries) {
		a.notify()
	}
	out := toEventJSON(stored)
	n := len(deliveries)
	out.Deliveries = &n
	w.Header().Set("Location", "/api/v1/events/"+stored.ID)
	return writeEvent(w, http.StatusAccepted, out, nil)
}

// newEvent checks req as POST /api/v1/events does (payload, tenant, type,
// idempotency key, the type's schema, read through types: one Checker per
// request) and returns the event to store. Its errors are *Error
// responses, or internal ones.
func (a *API) newEvent(r *http.Request, req *createEventRequest, types *catalog.Checker) (*store.Event, error) {
	payload := bytes.TrimSpace(req.Payload)
	if len(payload) == 0 {
		return nil, invalid("payload is required: any JSON value")
	}
	if int64(len(payload)) > a.maxPayload {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge, Message: fmt.Sprintf("payload is %d bytes, more than the limit of %d", len(payload), a.maxPayload)}
	}
	// encoding/json accepted it; make sure a receiver's JSON.parse would.
	if err := checkJS(payload); err != nil {
		if se, ok := errors.AsType[*jsoncanon.SyntaxError](err); ok {
			return nil, badRequest("payload is not JSON that JSON.parse accepts, at byte offset %d of the payload: %v", se.Offset, err)
		}
		return nil, badRequest("payload is not valid JSON: %v", err)
	}
	tenant, err := tenantOf(r, req.Tenant)
	if err != nil {
		return nil, err
	}
	if err := errors.Join(rules.CheckEventType("type", req.Type), rules.CheckOwnTenant(tenant),
		rules.CheckText("idempotency_key", req.IdempotencyKey, maxIdemKeyLen)); err != nil {
		return nil, invalid("%v", err)
	}
	if err := types.CheckEvent(r.Context(), req.Type, payload); err != nil {
		if v, ok := errors.AsType[*catalog.Violation](err); ok {
			return nil, violationError(v)
		}
		return nil, err
	}
	ev := &store.Event{
		ID:             store.NewID("evt"),
		Tenant:         tenant,
		Type:           req.Type,
		Payload:        payload,
		IdempotencyKey: req.IdempotencyKey,
		CreatedAt:      a.now(),
	}
	if a.tracer != nil {
		// Its deliveries' spans link to the request's.
		ev.TraceParent = a.tracer.TraceParent(r.Context())
	}
	return ev, nil
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request) error {
	ev, err := a.event(r)
	if err != nil {
		return err
	}
	out, payload := toEventJSON(ev), ev.Payload
	if ev.ErasedAt != nil {
		return writeEvent(w, http.StatusOK, out, nil)
	}
	if !json.Valid(payload) {
		// An inbound event's body need not be JSON.
		out.PayloadEncoding, payload = encodePayload(payload)
	}
	return writeEvent(w, http.StatusOK, out, payload)
}

// eraseEvent erases the event's payload and headers and its attempts'
// request headers and response bodies, keeping the metadata, and cancels
// its pending deliveries (store.Erasure.EraseEvent). It answers the
// event as erased; erasing it again changes nothing.
func (a *API) eraseEvent(w http.ResponseWriter, r *http.Request) error {
	ev, err := a.event(r)
	if err != nil {
		return err
	}
	erased, err := a.store.EraseEvent(r.Context(), ev.ID, a.now())
	if err != nil {
		return storeError(err, "event", ev.ID)
	}
	noteTenant(r, ev.Tenant)
	return writeEvent(w, http.StatusOK, toEventJSON(erased), nil)
}

// writeEvent writes ev with, unless nil, its payload as the "payload"
// member, byte for byte as it was received (encoding/json would compact and
// re-escape it).
func writeEvent(w http.ResponseWriter, status int, ev eventJSON, payload []byte) error {
	b, err := marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	if payload != nil {
		b = append(b[:len(b)-1], `,"payload":`...)
		b = append(b, payload...)
		b = append(b, '}')
	}
	writeRawJSON(w, status, append(b, '\n'))
	return nil
}

// canonBufs recycles the output buffers of checkJS.
var canonBufs = sync.Pool{New: func() any { return new([]byte) }}

// checkJS reports whether JSON.parse accepts payload, as jsoncanon.JS
// does, into a recycled buffer: the output is not needed.
func checkJS(payload []byte) error {
	bp := canonBufs.Get().(*[]byte)
	out, err := jsoncanon.AppendJS((*bp)[:0], payload)
	if cap(out) <= 1<<20 { // do not keep a huge payload's buffer
		*bp = out[:0]
		canonBufs.Put(bp)
	}
	return err
}

// event loads the event named by the {id} path value; one of another
// tenant than the caller's is not found.
func (a *API) event(r *http.Request) (*store.Event, error) {
	id := r.PathValue("id")
	ev, err := a.store.GetEvent(r.Context(), id)
	if err == nil && !principalOf(r).Sees(ev.Tenant) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, storeError(err, "event", id)
	}
	return ev, nil
}
