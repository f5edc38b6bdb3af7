package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// replayMissingRequest is the body of POST /api/v1/endpoints/{id}/replay-missing.
type replayMissingRequest struct {
	replayWindow
}

// replayWindow is what both replays of an endpoint take: the window of
// creation times, event type patterns and where a stopped call ended.
type replayWindow struct {
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until"`
	EventTypes []string   `json:"event_types"`
	// After continues a replay that stopped: the next_cursor it returned.
	After string `json:"after"`
}

// check validates the window: since is required (sinceIs says what it
// selects, for the message), until after it, after a cursor of the call
// named what, the patterns as an endpoint's. It returns until (zero for no
// bound) and the checked patterns.
func (rw replayWindow) check(what, sinceIs string) (until time.Time, types []string, err error) {
	if rw.Since.IsZero() {
		return until, nil, invalid("since is required: replay %s created at or after this RFC 3339 time", sinceIs)
	}
	if rw.Until != nil {
		if !rw.Until.After(rw.Since) {
			return until, nil, invalid("until must be after since")
		}
		until = *rw.Until
	}
	if _, _, ok := store.ParseReplayCursor(rw.After); !ok || len(rw.After) > maxCursor {
		return until, nil, invalid("after %q is not a next_cursor of %s", rw.After, what)
	}
	if len(rw.EventTypes) > 0 {
		if types, err = rules.CheckEventTypes(rw.EventTypes); err != nil {
			return until, nil, invalid("%v", err)
		}
	}
	return until, types, nil
}

// replayMissingResponse says what a replay-missing call did.
type replayMissingResponse struct {
	// Created is how many deliveries it created.
	Created int `json:"created"`
	// Scanned is how many events of the tenant in the window it looked
	// at, delivered to the endpoint or not.
	Scanned int `json:"scanned"`
	// Complete is false when the call stopped before the end of the
	// window (it ran out of time): call again with after = next_cursor.
	Complete   bool   `json:"complete"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// replayMissing gives an endpoint the events of a window that it has no
// delivery for (it was disabled, or created later, or filtered them out),
// batch after batch, each batch one transaction. It stops after half the
// request's time and says where, so that a large window takes several
// calls; each is idempotent.
func (a *API) replayMissing(w http.ResponseWriter, r *http.Request) error {
	var req replayMissingRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	until, types, err := req.check("replay-missing", "the events")
	if err != nil {
		return err
	}
	p := store.ReplayMissingParams{Since: req.Since, Until: until, EventTypes: types, After: req.After}
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	if e.Disabled {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "endpoint " + e.ID + " is disabled: enable it before replaying what it missed"}
	}
	p.EndpointID, p.Now = e.ID, a.now()
	stop := time.Now().Add(a.timeout / 2)
	var out replayMissingResponse
	for {
		res, err := a.store.ReplayMissing(r.Context(), p)
		if err != nil {
			if out.Created > 0 {
				a.notify()
			}
			return fmt.Errorf("replay missing events of %s: %w", e.ID, err)
		}
		out.Created += res.Created
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
	if out.Created > 0 {
		a.notify()
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// statsJSON is one window of GET /api/v1/endpoints/{id}/stats.
type statsJSON struct {
	Since       time.Time `json:"since"`
	Attempts    int       `json:"attempts"`
	Succeeded   int       `json:"succeeded"`
	Failed      int       `json:"failed"`
	Errors      int       `json:"errors"`
	SuccessRate float64   `json:"success_rate"`
	P50MS       float64   `json:"latency_p50_ms"`
	P95MS       float64   `json:"latency_p95_ms"`
	P99MS       float64   `json:"latency_p99_ms"`
}

// endpointStats answers the attempts of the last hour and day: counts by
// outcome, success rate and latency percentiles, the figures the
// dashboard's endpoint page shows.
func (a *API) endpointStats(w http.ResponseWriter, r *http.Request) error {
	e, err := a.endpoint(r)
	if err != nil {
		return err
	}
	now := a.now()
	out := struct {
		EndpointID string               `json:"endpoint_id"`
		At         time.Time            `json:"at"`
		Windows    map[string]statsJSON `json:"windows"`
	}{EndpointID: e.ID, At: utc(now), Windows: map[string]statsJSON{}}
	for _, win := range store.StatsWindows {
		since := now.Add(-win.Length)
		st, err := a.store.EndpointAttemptStats(r.Context(), e.ID, since, now)
		if err != nil {
			return fmt.Errorf("stats of %s: %w", e.ID, err)
		}
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		out.Windows[win.Name] = statsJSON{Since: utc(since), Attempts: st.Attempts, Succeeded: st.Succeeded, Failed: st.Failed,
			Errors: st.Errors, SuccessRate: st.SuccessRate(), P50MS: ms(st.P50), P95MS: ms(st.P95), P99MS: ms(st.P99)}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
