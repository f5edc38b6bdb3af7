package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hookrelay/hookrelay/internal/store"
)

const (
	// MaxBatchEvents is how many events one POST /api/v1/events/batch may
	// carry.
	MaxBatchEvents = 1000
	// maxBatchBytes bounds the body of POST /api/v1/events/batch, unless
	// one event of the payload limit needs more.
	maxBatchBytes = 16 << 20
)

// createEventsRequest is the body of POST /api/v1/events/batch.
type createEventsRequest struct {
	Events []createEventRequest `json:"events"`
}

// batchResult is one event's outcome in the answer of POST
// /api/v1/events/batch: its status as POST /api/v1/events would have
// answered it, and the event, or the error.
type batchResult struct {
	Status int `json:"status"`
	*eventJSON
	Error map[string]any `json:"error,omitempty"`
}

// batchResponse is the answer of POST /api/v1/events/batch.
type batchResponse struct {
	Accepted int           `json:"accepted"`
	Failed   int           `json:"failed"`
	Results  []batchResult `json:"results"`
}

// createEvents is POST /api/v1/events/batch: every event is checked as
// POST /api/v1/events checks one, the good ones are stored in one store
// transaction, and the answer, 200, has each event's result in order; a bad
// event loses only itself. A request that cannot be read, or is over the
// limits, is refused whole.
func (a *API) createEvents(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r, max(maxBatchBytes, a.maxPayload+eventEnvelopeBytes))
	if err != nil {
		return err
	}
	var req createEventsRequest
	if err := decodeJSON(body, &req); err != nil {
		return err
	}
	if len(req.Events) == 0 {
		return invalid("events is required: 1 to %d events", MaxBatchEvents)
	}
	if len(req.Events) > MaxBatchEvents {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("%d events, more than the limit of %d in one request", len(req.Events), MaxBatchEvents)}
	}
	res := make([]batchResult, len(req.Events))
	var (
		evs []*store.Event
		at  []int // at[i] is the index in res of evs[i]
	)
	types := a.catalog.Checker() // each event type read once for the batch
	for i := range req.Events {
		ev, err := a.newEvent(r, &req.Events[i], types)
		if err != nil {
			e, ok := errors.AsType[*Error](err)
			if !ok {
				return fmt.Errorf("event %d: %w", i, err)
			}
			res[i] = batchResult{Status: e.Status, Error: errorBody(e, err)}
			continue
		}
		evs, at = append(evs, ev), append(at, i)
	}
	out := batchResponse{Results: res, Failed: len(req.Events) - len(evs)}
	if len(evs) > 0 {
		stored, err := a.store.CreateEvents(r.Context(), evs, evs[0].CreatedAt.Add(-a.idemWindow))
		if err != nil {
			return fmt.Errorf("create events: %w", err)
		}
		notify := false
		for j, sr := range stored {
			ej := toEventJSON(sr.Event)
			if errors.Is(sr.Err, store.ErrConflict) {
				ej.Duplicate = true
			} else {
				n := len(sr.Deliveries)
				ej.Deliveries = &n
				notify = notify || store.AnyUnclaimed(sr.Deliveries)
			}
			res[at[j]] = batchResult{Status: http.StatusAccepted, eventJSON: &ej}
		}
		out.Accepted = len(evs)
		if notify {
			a.notify()
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
