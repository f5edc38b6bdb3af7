package storetest

import (
	"encoding/json"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

var operatorTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"OperationalWebhooks", testOperationalWebhooks},
	{"OperationalWebhooksNeedTheEndpoint", testOperationalWebhooksNeedTheEndpoint},
}

// operatorEndpoint creates the operator endpoint.
func (h *harness) operatorEndpoint() *store.Endpoint {
	h.Helper()
	return h.endpoint(store.OperatorTenant, func(e *store.Endpoint) { e.ID = store.OperatorEndpointID })
}

// operational returns the operational webhooks on record, oldest first:
// their deliveries (to the operator endpoint) and the bodies of their
// events.
func (h *harness) operational() ([]*store.Delivery, []store.OperationalBody) {
	h.Helper()
	tenant := store.OperatorTenant
	ds, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Tenant: &tenant, Page: store.Page{Limit: 1000}})
	if err != nil {
		h.Fatalf("ListDeliveries: %v", err)
	}
	var bodies []store.OperationalBody
	for i, j := 0, len(ds)-1; i < j; i, j = i+1, j-1 {
		ds[i], ds[j] = ds[j], ds[i]
	}
	for _, d := range ds {
		if d.EndpointID != store.OperatorEndpointID {
			h.Fatalf("operational delivery %+v: want one to %s", d, store.OperatorEndpointID)
		}
		ev, err := h.s.GetEvent(h.ctx, d.EventID)
		if err != nil {
			h.Fatalf("GetEvent: %v", err)
		}
		var b store.OperationalBody
		if err := json.Unmarshal(ev.Payload, &b); err != nil || b.ID != ev.ID || b.Type != ev.Type || b.Type != d.EventType {
			h.Fatalf("operational event %+v: body %s (%v)", ev, ev.Payload, err)
		}
		bodies = append(bodies, b)
	}
	return ds, bodies
}

// testOperationalWebhooks: the commits that exhaust a delivery, end an
// endpoint's failing run and disable a failing endpoint write, in the
// same transaction, an event of the operator tenant and its delivery to
// the operator endpoint, which a claim then takes like any other; the
// operator endpoint's own deliveries report nothing.
func testOperationalWebhooks(h *harness) {
	op := h.operatorEndpoint()
	e := h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"a"} })
	for range 3 {
		h.event1("", "a", t0)
	}
	jobs := h.claim(t0, 10)
	if len(jobs) != 3 {
		h.Fatalf("claimed %d, want 3", len(jobs))
	}
	h.complete(result(jobs[0], store.StatusPending, 503, t0, t0.Add(time.Minute))) // starts failing
	if ds, _ := h.operational(); len(ds) != 0 {
		h.Fatalf("a retry made %d operational webhooks", len(ds))
	}
	h.complete(result(jobs[1], store.StatusFailed, 500, t0.Add(time.Second), time.Time{}))
	h.complete(result(jobs[2], store.StatusSucceeded, 200, t0.Add(2*time.Second), time.Time{}))
	ds, bodies := h.operational()
	for _, d := range ds {
		if d.Status != store.StatusPending || d.Attempts != 0 {
			h.Fatalf("new operational delivery %+v, want pending", d)
		}
	}
	if len(bodies) != 2 || bodies[0].Type != store.OpDeliveryExhausted || bodies[1].Type != store.OpDeliveryRecovered {
		h.Fatalf("operational webhooks %+v, want exhausted then recovered", bodies)
	}
	if b := bodies[0].Data; b["delivery_id"] != jobs[1].Delivery.ID || b["endpoint_id"] != e.ID || b["last_status"] != float64(500) ||
		b["event_type"] != "a" || b["attempts"] != float64(1) {
		h.Fatalf("delivery.exhausted data %v", b)
	}
	if b := bodies[1].Data; b["delivery_id"] != jobs[2].Delivery.ID || b["failing_since"] != t0.Format(time.RFC3339) {
		h.Fatalf("delivery.recovered data %v", b)
	}

	// They are claimed and completed like any delivery; the operator
	// endpoint's own failures report nothing.
	opJobs := h.claim(t0, 10, e.ID)
	h.wantIDs("claim of the operational deliveries", jobIDs(opJobs), sorted(ds[0].ID, ds[1].ID))
	for _, j := range opJobs {
		if j.Endpoint.ID != op.ID || j.Event.Tenant != store.OperatorTenant {
			h.Fatalf("operational job %+v", j)
		}
		h.complete(result(j, store.StatusFailed, 500, t0, time.Time{}))
	}
	if ds, _ := h.operational(); len(ds) != 2 {
		h.Fatalf("%d operational webhooks after their own failure, want the 2 (failed)", len(ds))
	}

	// A failing endpoint disabled: endpoint.disabled, and none for the
	// operator endpoint itself, failing too.
	h.event1("", "a", t0)
	jobs = h.claim(t0, 10)
	h.complete(result(jobs[0], store.StatusPending, 503, t0, t0.Add(time.Minute)))
	disabled, err := h.s.DisableFailingEndpoints(h.ctx, t0.Add(time.Hour), "auto: test")
	if err != nil || len(disabled) != 2 {
		h.Fatalf("DisableFailingEndpoints = %d, %v; want the endpoint and the operator's", len(disabled), err)
	}
	if _, bodies := h.operational(); len(bodies) != 2 {
		h.Fatalf("operational webhooks %+v with the operator endpoint disabled, want no new one", bodies)
	}
}

// testOperationalWebhooksNeedTheEndpoint: without an enabled operator
// endpoint nothing is written; with one, endpoint.disabled is.
func testOperationalWebhooksNeedTheEndpoint(h *harness) {
	e := h.endpoint("", nil)
	h.event1("", "a", t0)
	jobs := h.claim(t0, 10)
	h.complete(result(jobs[0], store.StatusFailed, 500, t0, time.Time{}))
	if ds, _ := h.operational(); len(ds) != 0 {
		h.Fatalf("%d operational webhooks without an operator endpoint", len(ds))
	}
	h.operatorEndpoint()
	if _, err := h.s.DisableFailingEndpoints(h.ctx, t0.Add(time.Hour), "auto: test"); err != nil {
		h.Fatalf("DisableFailingEndpoints: %v", err)
	}
	_, bodies := h.operational()
	if len(bodies) != 1 || bodies[0].Type != store.OpEndpointDisabled || bodies[0].Data["endpoint_id"] != e.ID ||
		bodies[0].Data["reason"] != "auto: test" {
		h.Fatalf("operational webhooks %+v, want endpoint.disabled of %s", bodies, e.ID)
	}
}
