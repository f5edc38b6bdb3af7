package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// ReplayParams describe a replay job (CreateReplay).
type ReplayParams struct {
	// EndpointID is the one endpoint to replay to; "" means every
	// endpoint of Tenant (a tenant's key: its own; an admin key naming
	// no tenant: every endpoint).
	EndpointID string  `json:"endpoint_id,omitempty"`
	Tenant     *string `json:"tenant,omitempty"`
	// Kind is "failed" (make failed deliveries due again) or "missing"
	// (create the deliveries endpoints missed).
	Kind string `json:"kind"`
	// Since and Until bound the creation time: [Since, Until).
	Since time.Time  `json:"since"`
	Until *time.Time `json:"until,omitempty"`
	// EventTypes keeps these types or filters ("invoice.*").
	EventTypes []string `json:"event_types,omitempty"`
	// Status, for kind failed: "failed" and/or "canceled"; default failed.
	Status []string `json:"status,omitempty"`
	// Rate caps the deliveries queued per second; 0 means the server's
	// --max-replay-rate.
	Rate int `json:"rate,omitempty"`
}

// ReplayJob is a replay running in the background, with its progress.
type ReplayJob struct {
	ID         string  `json:"id"`
	Tenant     *string `json:"tenant"`
	EndpointID string  `json:"endpoint_id,omitempty"`
	Kind       string  `json:"kind"`
	// State is queued, running, succeeded, failed or canceled.
	State      string     `json:"state"`
	Since      time.Time  `json:"since"`
	Until      *time.Time `json:"until,omitempty"`
	EventTypes []string   `json:"event_types"`
	Status     []string   `json:"status,omitempty"`
	Rate       int        `json:"rate"`
	Counts     struct {
		// Scanned is how many deliveries (events) were looked at so far,
		// Queued how many were made due (created).
		Scanned int `json:"scanned"`
		Queued  int `json:"queued"`
	} `json:"counts"`
	Cursor     string          `json:"cursor"`
	Error      string          `json:"error,omitempty"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
	NotBefore  time.Time       `json:"not_before"`
	Raw        json.RawMessage `json:"-"`
}

func (j *ReplayJob) setRaw(b json.RawMessage) { j.Raw = b }

// CreateReplay starts a replay job; the server runs it in the background.
func (c *Client) CreateReplay(ctx context.Context, p *ReplayParams) (*ReplayJob, error) {
	return call[ReplayJob](ctx, c, request{method: http.MethodPost, path: "/api/v1/replays"}, p)
}

// GetReplay returns the replay job with this id.
func (c *Client) GetReplay(ctx context.Context, id string) (*ReplayJob, error) {
	return call[ReplayJob](ctx, c, request{method: http.MethodGet, path: idPath("/api/v1/replays", id, ""), retry: true}, nil)
}

// CancelReplay cancels a replay job that is not done; one that is answers
// ErrConflict.
func (c *Client) CancelReplay(ctx context.Context, id string) (*ReplayJob, error) {
	return call[ReplayJob](ctx, c, request{method: http.MethodPost, path: idPath("/api/v1/replays", id, "/cancel")}, nil)
}

// ReplayFilter picks a page of replay jobs; a nil filter is the first
// page of all.
type ReplayFilter struct {
	// Tenant, when not nil, keeps only that tenant's jobs.
	Tenant *string
	Limit  int
	Cursor string
}

// ListReplays returns one page of replay jobs, newest first.
func (c *Client) ListReplays(ctx context.Context, f *ReplayFilter) (*Page[ReplayJob], error) {
	if f == nil {
		f = &ReplayFilter{}
	}
	q := url.Values{}
	if f.Tenant != nil {
		q.Set("tenant", *f.Tenant)
	}
	return list[ReplayJob](ctx, c, request{path: "/api/v1/replays", query: pageQuery(q, f.Limit, f.Cursor)})
}
