package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// DefaultMaxReplayRate is Config.MaxReplayRate's default: deliveries per
// second a replay job may queue.
const DefaultMaxReplayRate = 500

// createReplayRequest is the body of POST /api/v1/replays.
type createReplayRequest struct {
	// EndpointID names the one endpoint to replay to; "" replays to every
	// endpoint of Tenant (or, for an admin key naming no tenant, of every
	// tenant).
	EndpointID string     `json:"endpoint_id"`
	Tenant     *string    `json:"tenant"`
	Kind       string     `json:"kind"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until"`
	EventTypes []string   `json:"event_types"`
	Status     []string   `json:"status"`
	Rate       int        `json:"rate"`
}

// replayJobJSON is a replay job on the wire.
type replayJobJSON struct {
	ID         string     `json:"id"`
	Tenant     *string    `json:"tenant"`
	EndpointID string     `json:"endpoint_id,omitempty"`
	Kind       string     `json:"kind"`
	State      string     `json:"state"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until,omitempty"`
	EventTypes []string   `json:"event_types"`
	Status     []string   `json:"status,omitempty"`
	Rate       int        `json:"rate"`
	Counts     struct {
		Scanned int `json:"scanned"`
		Queued  int `json:"queued"`
	} `json:"counts"`
	Cursor     string     `json:"cursor"`
	Error      string     `json:"error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	NotBefore  time.Time  `json:"not_before"`
}

func toReplayJobJSON(j *store.ReplayJob) replayJobJSON {
	out := replayJobJSON{ID: j.ID, Tenant: j.Tenant, EndpointID: j.EndpointID, Kind: string(j.Kind), State: string(j.State),
		Since: utc(j.Since), EventTypes: j.EventTypes, Rate: j.Rate, Cursor: j.Cursor, Error: j.Error,
		CreatedAt: utc(j.CreatedAt), StartedAt: utcPtr(j.StartedAt), FinishedAt: utcPtr(j.FinishedAt), NotBefore: utc(j.NotBefore)}
	if out.EventTypes == nil {
		out.EventTypes = []string{}
	}
	if !j.Until.IsZero() {
		u := utc(j.Until)
		out.Until = &u
	}
	for _, s := range j.Statuses {
		out.Status = append(out.Status, string(s))
	}
	out.Counts.Scanned, out.Counts.Queued = j.Scanned, j.Queued
	return out
}

// createReplay creates a replay job and answers 202 with it; the serve
// process's replayer runs it in the background.
func (a *API) createReplay(w http.ResponseWriter, r *http.Request) error {
	var req createReplayRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	j := &store.ReplayJob{ID: store.NewID("rpl"), Kind: store.ReplayKind(req.Kind), Since: req.Since, Rate: req.Rate, CreatedAt: a.now()}
	switch j.Kind {
	case store.ReplayFailedKind, store.ReplayMissingKind:
	default:
		return invalid("kind %q: want failed (re-queue failed deliveries) or missing (create the deliveries endpoints missed)", req.Kind)
	}
	if req.Since.IsZero() {
		return invalid("since is required: replay what was created at or after this RFC 3339 time")
	}
	if req.Until != nil {
		if !req.Until.After(req.Since) {
			return invalid("until must be after since")
		}
		j.Until = *req.Until
	}
	if len(req.EventTypes) > 0 {
		types, err := rules.CheckEventTypes(req.EventTypes)
		if err != nil {
			return invalid("%v", err)
		}
		j.EventTypes = types
	}
	if len(req.Status) > 0 && j.Kind != store.ReplayFailedKind {
		return invalid("status applies to kind failed only")
	}
	for _, s := range req.Status {
		j.Statuses = append(j.Statuses, store.DeliveryStatus(s))
	}
	if _, err := store.ReplayStatuses(j.Statuses); err != nil {
		return invalid("%v", err)
	}
	switch {
	case req.Rate < 0:
		return invalid("rate must not be negative")
	case req.Rate == 0:
		j.Rate = a.maxReplayRate
	case req.Rate > a.maxReplayRate:
		return invalid("rate %d is above this server's --max-replay-rate %d", req.Rate, a.maxReplayRate)
	}
	if req.EndpointID != "" {
		e, err := a.rules.GetEndpoint(r.Context(), req.EndpointID, principalOf(r).Within())
		if err != nil {
			return storeError(err, "endpoint", req.EndpointID)
		}
		if req.Tenant != nil && *req.Tenant != e.Tenant {
			return invalid("endpoint %s is not of tenant %q", e.ID, *req.Tenant)
		}
		if j.Kind == store.ReplayMissingKind && e.Disabled {
			return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: "endpoint " + e.ID + " is disabled: enable it before replaying what it missed"}
		}
		j.EndpointID, j.Tenant = e.ID, &e.Tenant
	} else if p := principalOf(r); p.Tenant != nil || req.Tenant != nil {
		if req.Tenant != nil {
			if err := checkTenant(*req.Tenant); err != nil {
				return invalid("%v", err)
			}
		}
		t, err := tenantOf(r, req.Tenant)
		if err != nil {
			return err
		}
		j.Tenant = &t
	}
	if err := a.store.CreateReplayJob(r.Context(), j); err != nil {
		return fmt.Errorf("create replay job: %w", err)
	}
	if j.Tenant != nil {
		noteTenant(r, *j.Tenant)
	} else {
		noteNoTenant(r)
	}
	noteTarget(r, j.ID, string(j.Kind))
	if a.replayer != nil {
		a.replayer.Wake()
	}
	writeJSON(w, http.StatusAccepted, toReplayJobJSON(j))
	return nil
}

// replayJob loads the job named by {id}; one of another tenant than the
// caller's (or of every tenant, for a tenant's key) is not found.
func (a *API) replayJob(r *http.Request) (*store.ReplayJob, error) {
	id := r.PathValue("id")
	j, err := a.store.GetReplayJob(r.Context(), id)
	if err == nil && !principalOf(r).SeesAny(j.Tenant) {
		err = store.ErrNotFound
	}
	if err != nil {
		return nil, storeError(err, "replay job", id)
	}
	if j.Tenant != nil {
		noteTenant(r, *j.Tenant)
	} else {
		noteNoTenant(r)
	}
	return j, nil
}

func (a *API) getReplay(w http.ResponseWriter, r *http.Request) error {
	j, err := a.replayJob(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toReplayJobJSON(j))
	return nil
}

func (a *API) listReplays(w http.ResponseWriter, r *http.Request) error {
	var f store.ReplayJobFilter
	var ok bool
	var err error
	if f.Page, f.Tenant, ok, err = pageTenantParams(r); err != nil {
		return err
	}
	if !ok {
		writeJSON(w, http.StatusOK, list[replayJobJSON]{Data: []replayJobJSON{}})
		return nil
	}
	js, next, err := a.store.ListReplayJobs(r.Context(), f)
	if err != nil {
		return storeError(err, "cursor", f.Cursor)
	}
	out := list[replayJobJSON]{Data: make([]replayJobJSON, len(js)), NextCursor: next}
	for i, j := range js {
		out.Data[i] = toReplayJobJSON(j)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// cancelReplay cancels a job that is not done: no batch of it commits
// afterwards. 409 if it is done.
func (a *API) cancelReplay(w http.ResponseWriter, r *http.Request) error {
	j, err := a.replayJob(r)
	if err != nil {
		return err
	}
	c, err := a.store.CancelReplayJob(r.Context(), j.ID, a.now())
	if errors.Is(err, store.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf("replay job %s is %s already", j.ID, c.State)}
	}
	if err != nil {
		return storeError(err, "replay job", j.ID)
	}
	noteTarget(r, j.ID, "")
	writeJSON(w, http.StatusOK, toReplayJobJSON(c))
	return nil
}
