package api

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/store"
)

type wakeCounter struct{ n int }

func (w *wakeCounter) Wake() { w.n++ }

// TestReplayJobs: POST /api/v1/replays creates a queued job (202) and
// wakes the replayer; the job is read, listed and canceled through the
// API, bounded by --max-replay-rate, and a tenant's key sees and touches
// its own tenant's jobs only.
func TestReplayJobs(t *testing.T) {
	t.Parallel()
	wake := &wakeCounter{}
	tb := setup(t, func(c *Config) { c.MaxReplayRate = 100; c.Replayer = wake })
	acme := tb.createEndpoint(t, map[string]any{"tenant": "acme"})
	globex := tb.createEndpoint(t, map[string]any{"tenant": "globex"})
	since := tb.clock.Now().Add(-time.Hour).Format(time.RFC3339Nano)

	var j replayJobJSON
	must(t, tb.do(t, "POST", "/api/v1/replays", map[string]any{"endpoint_id": acme.ID, "kind": "failed", "since": since,
		"until": tb.clock.Now().Format(time.RFC3339Nano), "event_types": []string{"invoice.*"}, "status": []string{"failed", "canceled"}, "rate": 10}), 202).json(t, &j)
	if j.State != "queued" || j.EndpointID != acme.ID || j.Tenant == nil || *j.Tenant != "acme" || j.Rate != 10 ||
		len(j.Status) != 2 || j.Until == nil || len(j.EventTypes) != 1 || j.StartedAt != nil || j.ID[:4] != "rpl_" {
		t.Fatalf("created job = %+v", j)
	}
	if wake.n != 1 {
		t.Fatalf("replayer woken %d times, want 1", wake.n)
	}
	var all replayJobJSON
	must(t, tb.do(t, "POST", "/api/v1/replays", map[string]any{"kind": "missing", "since": since}), 202).json(t, &all)
	if all.Tenant != nil || all.EndpointID != "" || all.Rate != 100 {
		t.Fatalf("job of every endpoint = %+v; want no tenant and the server's max rate", all)
	}
	for _, c := range []struct {
		body map[string]any
		code int
	}{
		{map[string]any{"kind": "failed"}, 422},
		{map[string]any{"kind": "sideways", "since": since}, 422},
		{map[string]any{"kind": "failed", "since": since, "rate": 101}, 422},
		{map[string]any{"kind": "failed", "since": since, "status": []string{"succeeded"}}, 422},
		{map[string]any{"kind": "missing", "since": since, "status": []string{"failed"}}, 422},
		{map[string]any{"kind": "failed", "since": since, "until": since}, 422},
		{map[string]any{"kind": "failed", "since": since, "endpoint_id": "ep_nope"}, 404},
		{map[string]any{"kind": "failed", "since": since, "endpoint_id": acme.ID, "tenant": "globex"}, 422},
	} {
		if r := tb.do(t, "POST", "/api/v1/replays", c.body); r.status != c.code {
			t.Errorf("POST /replays %v = %d %s, want %d", c.body, r.status, r.body, c.code)
		}
	}

	// A key of tenant globex: its jobs are globex's, and acme's are not
	// found.
	gkey, _ := tb.newKey(t, new("globex"), access.DeliveriesRead, access.DeliveriesWrite)
	var g replayJobJSON
	must(t, tb.doKey(t, gkey, "POST", "/api/v1/replays", map[string]any{"kind": "failed", "since": since}), 202).json(t, &g)
	if g.Tenant == nil || *g.Tenant != "globex" {
		t.Fatalf("a tenant key's job = %+v, want tenant globex", g)
	}
	if r := tb.doKey(t, gkey, "POST", "/api/v1/replays", map[string]any{"kind": "failed", "since": since, "endpoint_id": acme.ID}); r.status != 404 {
		t.Fatalf("a tenant key replaying another tenant's endpoint = %d, want 404", r.status)
	}
	if r := tb.doKey(t, gkey, "POST", "/api/v1/replays", map[string]any{"kind": "failed", "since": since, "tenant": "acme"}); r.status != 403 {
		t.Fatalf("a tenant key naming another tenant = %d, want 403", r.status)
	}
	for _, id := range []string{j.ID, all.ID} {
		if r := tb.doKey(t, gkey, "GET", "/api/v1/replays/"+id, nil); r.status != 404 {
			t.Fatalf("tenant key GET another's job = %d, want 404", r.status)
		}
		if r := tb.doKey(t, gkey, "POST", "/api/v1/replays/"+id+"/cancel", nil); r.status != 404 {
			t.Fatalf("tenant key cancel another's job = %d, want 404", r.status)
		}
	}
	var gl list[replayJobJSON]
	must(t, tb.doKey(t, gkey, "GET", "/api/v1/replays", nil), 200).json(t, &gl)
	if len(gl.Data) != 1 || gl.Data[0].ID != g.ID {
		t.Fatalf("tenant key's list = %+v, want its one job", gl.Data)
	}
	var al list[replayJobJSON]
	must(t, tb.do(t, "GET", "/api/v1/replays?limit=2", nil), 200).json(t, &al)
	if len(al.Data) != 2 || al.Data[0].ID != g.ID || al.NextCursor == "" {
		t.Fatalf("admin's first page = %+v", al)
	}
	_ = globex

	// Cancel, then cancel again: 409.
	var c replayJobJSON
	must(t, tb.do(t, "POST", "/api/v1/replays/"+j.ID+"/cancel", nil), 200).json(t, &c)
	if c.State != "canceled" || c.FinishedAt == nil {
		t.Fatalf("canceled job = %+v", c)
	}
	wantError(t, tb.do(t, "POST", "/api/v1/replays/"+j.ID+"/cancel", nil), http.StatusConflict, CodeConflict)
	var got replayJobJSON
	must(t, tb.do(t, "GET", "/api/v1/replays/"+j.ID, nil), 200).json(t, &got)
	if got.State != "canceled" {
		t.Fatalf("GET canceled job = %+v", got)
	}
	entries, _, err := tb.store.ListAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, e := range entries {
		actions[e.Action]++
	}
	if actions["replay.create"] != 3 || actions["replay.cancel"] != 1 {
		t.Fatalf("audit actions = %v; want 3 replay.create and 1 replay.cancel", actions)
	}
}

// TestReplayEndpointFilters: /endpoints/{id}/replay takes until,
// event_types and status.
func TestReplayEndpointFilters(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ctx := context.Background()
	ep := tb.createEndpoint(t, map[string]any{})
	paid := tb.sendEvent(t, `{"type":"invoice.paid","payload":{}}`)
	user := tb.sendEvent(t, `{"type":"user.created","payload":{}}`)
	jobs, err := tb.store.ClaimDueDeliveries(ctx, store.ClaimParams{Now: tb.clock.Now().Add(time.Second), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 2 {
		t.Fatalf("claim: %d, %v", len(jobs), err)
	}
	for _, j := range jobs {
		if _, err := tb.store.CompleteAttempts(ctx, []store.AttemptResult{{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusFailed,
			Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: ep.ID, EventID: j.Event.ID, Number: 1,
				StartedAt: tb.clock.Now(), URL: ep.URL, StatusCode: 500, Trigger: "scheduled"}}}); err != nil {
			t.Fatal(err)
		}
	}
	since := tb.clock.Now().Add(-time.Hour).Format(time.RFC3339Nano)
	var out replayResponse
	must(t, tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/replay", map[string]any{"since": since, "until": tb.clock.Now().Add(time.Hour).Format(time.RFC3339Nano),
		"event_types": []string{"invoice.*"}}), 202).json(t, &out)
	if out.Replayed != 1 || out.Scanned != 2 || !out.Complete {
		t.Fatalf("replay invoice.* = %+v; want 1 of 2", out)
	}
	if r := tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/replay", map[string]any{"since": since, "status": []string{"pending"}}); r.status != 422 {
		t.Fatalf("replay status pending = %d, want 422", r.status)
	}
	var pe, ue store.DeliveryStatus
	for _, j := range jobs {
		d, _ := tb.store.GetDelivery(ctx, j.Delivery.ID)
		if j.Event.ID == paid.ID {
			pe = d.Status
		} else if j.Event.ID == user.ID {
			ue = d.Status
		}
	}
	if pe != store.StatusPending || ue != store.StatusFailed {
		t.Fatalf("after replay: invoice.paid %s, user.created %s", pe, ue)
	}
}
