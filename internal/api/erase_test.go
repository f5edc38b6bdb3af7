package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestEraseEvent: DELETE /api/v1/events/{id}/payload erases what the event
// and its attempts said, keeps the rest, cancels what was still to be
// sent, refuses a retry, and is in the audit log.
func TestEraseEvent(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ctx := context.Background()
	sent := tb.createEndpoint(t, map[string]any{})
	waiting := tb.createEndpoint(t, map[string]any{})
	ev := tb.sendEvent(t, `{"type":"user.updated","payload":{"email":"alice@example.com"}}`)

	// One delivery fails with a response that echoes the payload; the
	// other is still pending.
	jobs, err := tb.store.ClaimDueDeliveries(ctx, store.ClaimParams{Now: tb.clock.Now().Add(time.Second), Lease: time.Minute,
		Limit: 10, ExcludeEndpoints: []string{waiting.ID}})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %d jobs, %v", len(jobs), err)
	}
	failed := jobs[0].Delivery.ID
	if _, err := tb.store.CompleteAttempts(ctx, []store.AttemptResult{{
		DeliveryID: failed, Claim: jobs[0].Delivery.Claim, Status: store.StatusFailed,
		Attempt: store.Attempt{
			ID: store.NewID("att"), DeliveryID: failed, EndpointID: sent.ID, EventID: ev.ID, Number: 1,
			StartedAt: tb.clock.Now(), Duration: time.Millisecond, URL: sent.URL,
			RequestHeaders: map[string]string{"X-Echo": "alice@example.com"}, StatusCode: 500,
			ResponseBody: []byte(`bad email alice@example.com`), Trigger: "scheduled",
		},
	}}); err != nil {
		t.Fatal(err)
	}
	if r := must(t, tb.do(t, "GET", "/api/v1/deliveries/"+failed, nil), 200); !strings.Contains(string(r.body), "alice@example.com") {
		t.Fatalf("before erasing, the attempt does not show what it got: %s", r.body)
	}

	tb.clock.Advance(time.Minute)
	var erased eventJSON
	r := must(t, tb.do(t, "DELETE", "/api/v1/events/"+ev.ID+"/payload", nil), 200)
	r.json(t, &erased)
	if erased.ErasedAt == nil || !erased.ErasedAt.Equal(tb.clock.Now()) || erased.ID != ev.ID || erased.Type != "user.updated" {
		t.Fatalf("erase answered %s", r.body)
	}
	for _, path := range []string{"/api/v1/events/" + ev.ID, "/api/v1/deliveries/" + failed, "/api/v1/events/" + ev.ID + "/deliveries"} {
		r := must(t, tb.do(t, "GET", path, nil), 200)
		if strings.Contains(string(r.body), "alice") {
			t.Errorf("GET %s still shows the erased content: %s", path, r.body)
		}
	}
	got := must(t, tb.do(t, "GET", "/api/v1/events/"+ev.ID, nil), 200)
	if strings.Contains(string(got.body), `"payload"`) || !strings.Contains(string(got.body), `"erased_at"`) {
		t.Errorf("GET of an erased event = %s, want erased_at and no payload", got.body)
	}
	var l list[deliveryJSON]
	must(t, tb.do(t, "GET", "/api/v1/events/"+ev.ID+"/deliveries", nil), 200).json(t, &l)
	status := map[string]store.DeliveryStatus{}
	for _, d := range l.Data {
		status[d.EndpointID] = d.Status
	}
	if status[sent.ID] != store.StatusFailed || status[waiting.ID] != store.StatusCanceled {
		t.Errorf("statuses after erasing = %v, want the failed one kept and the pending one canceled", status)
	}
	wantError(t, tb.do(t, "POST", "/api/v1/deliveries/"+failed+"/retry", nil), http.StatusConflict, CodeConflict)
	wantError(t, tb.do(t, "DELETE", "/api/v1/events/evt_missing/payload", nil), http.StatusNotFound, CodeNotFound)

	var audit list[auditJSON]
	must(t, tb.do(t, "GET", "/api/v1/audit", nil), 200).json(t, &audit)
	if len(audit.Data) == 0 || audit.Data[0].Action != "event.erase" || audit.Data[0].Target != ev.ID ||
		audit.Data[0].Tenant == nil || *audit.Data[0].Tenant != "" {
		t.Errorf("audit log = %+v, want event.erase of %s first", audit.Data, ev.ID)
	}
}
