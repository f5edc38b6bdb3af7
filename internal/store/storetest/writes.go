package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// writeTests are the tests of the writes that say what they change
// (UpdateEndpoint, UpdateSource with patches; CreateSource and
// DeleteSource with the destinations, in one transaction each); Run runs
// them with the others.
var writeTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"PatchKeepsEngineFields", testPatchKeepsEngineFields},
	{"PatchRacesAutoDisable", testPatchRacesAutoDisable},
	{"PatchEnabled", testPatchEnabled},
	{"ConcurrentRotations", testConcurrentRotations},
	{"PatchFuncErrorAborts", testPatchFuncErrorAborts},
	{"CreateSourceAtomic", testCreateSourceAtomic},
	{"DeleteSourceCascades", testDeleteSourceCascades},
	{"UpdateSourcePartial", testUpdateSourcePartial},
}

const autoReason = "auto: failing for 72h"

// failingEndpoint creates an enabled endpoint that has been failing since
// an hour before t0, so that DisableFailingEndpoints(t0, ...) disables it.
func (h *harness) failingEndpoint() *store.Endpoint {
	h.Helper()
	return h.endpoint("", func(e *store.Endpoint) { e.FailingSince = new(t0.Add(-time.Hour)) })
}

func (h *harness) patch(id string, p store.EndpointPatch) *store.Endpoint {
	h.Helper()
	e, err := h.s.UpdateEndpoint(h.ctx, id, func(*store.Endpoint) (store.EndpointPatch, error) { return p, nil })
	if err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
	return e
}

func (h *harness) wantAutoDisabled(what string, e *store.Endpoint) {
	h.Helper()
	if !e.Disabled || e.DisabledReason != autoReason || !sameTimePtr(e.FailingSince, new(t0.Add(-time.Hour))) {
		h.Fatalf("%s: disabled %v, reason %q, failing since %s; want disabled, %q, %v",
			what, e.Disabled, e.DisabledReason, fmtTimePtr(e.FailingSince), autoReason, t0.Add(-time.Hour))
	}
}

// testPatchKeepsEngineFields: a patch computed from a copy read before the
// engine disabled the endpoint (a form or a PATCH in flight) changes only
// the fields it names; the engine's Disabled, DisabledReason and
// FailingSince stay. Whole-row writes re-enabled the endpoint here.
func testPatchKeepsEngineFields(h *harness) {
	e := h.failingEndpoint()
	stale := h.getEndpoint(e.ID) // read before the engine acts
	if got, err := h.s.DisableFailingEndpoints(h.ctx, t0, autoReason); err != nil || len(got) != 1 {
		h.Fatalf("DisableFailingEndpoints = %d, %v", len(got), err)
	}
	stale.Description = "edited meanwhile"
	stale.URL = "https://example.com/edited"
	stale.UpdatedAt = now()
	got := h.patch(e.ID, store.PatchOf(stale))
	h.wantAutoDisabled("UpdateEndpoint's result", got)
	after := h.getEndpoint(e.ID)
	h.wantAutoDisabled("after the patch", after)
	if after.Description != "edited meanwhile" || after.URL != "https://example.com/edited" {
		h.Fatalf("the patch was not written: %+v", after)
	}
	// The endpoint stays out of fan-out.
	if _, ds := h.event("", "x", t0); len(ds) != 0 {
		h.Fatalf("auto-disabled endpoint got %d deliveries after a patch", len(ds))
	}
}

// testPatchRacesAutoDisable runs DisableFailingEndpoints and an
// UpdateEndpoint of the description at once, released together, many
// times: whichever goes first, the endpoint ends disabled with the
// automatic reason and its FailingSince, and with the new description.
func testPatchRacesAutoDisable(h *harness) {
	const rounds = 25
	for round := range rounds {
		e := h.failingEndpoint()
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			disabled []*store.Endpoint
			errs     [2]error
		)
		desc := fmt.Sprintf("round %d", round)
		wg.Go(func() {
			<-start
			disabled, errs[0] = h.s.DisableFailingEndpoints(h.ctx, t0, autoReason)
		})
		wg.Go(func() {
			<-start
			_, errs[1] = h.s.UpdateEndpoint(h.ctx, e.ID, func(cur *store.Endpoint) (store.EndpointPatch, error) {
				return store.EndpointPatch{Description: &desc, UpdatedAt: now()}, nil
			})
		})
		close(start)
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			h.Fatalf("round %d: %v", round, err)
		}
		if len(disabled) != 1 || disabled[0].ID != e.ID {
			h.Fatalf("round %d: DisableFailingEndpoints disabled %d endpoints, want %s", round, len(disabled), e.ID)
		}
		got := h.getEndpoint(e.ID)
		h.wantAutoDisabled(fmt.Sprintf("round %d", round), got)
		if got.Description != desc {
			h.Fatalf("round %d: description %q, want %q", round, got.Description, desc)
		}
	}
}

// testPatchEnabled: Enabled counts only when it changes the endpoint's
// state. Enabling an enabled endpoint keeps its FailingSince; disabling an
// auto-disabled one keeps the automatic reason; enabling a disabled one is
// a fresh start.
func testPatchEnabled(h *harness) {
	e := h.failingEndpoint()
	got := h.patch(e.ID, store.EndpointPatch{Enabled: new(true)})
	if got.Disabled || !sameTimePtr(got.FailingSince, e.FailingSince) {
		h.Fatalf("enabling an enabled endpoint: disabled %v, failing since %s", got.Disabled, fmtTimePtr(got.FailingSince))
	}
	if _, err := h.s.DisableFailingEndpoints(h.ctx, t0, autoReason); err != nil {
		h.Fatalf("DisableFailingEndpoints: %v", err)
	}
	h.wantAutoDisabled("disabling an auto-disabled endpoint", h.patch(e.ID, store.EndpointPatch{Enabled: new(false)}))

	if _, ds := h.event("", "x", t0); len(ds) != 0 {
		h.Fatalf("disabled endpoint got %d deliveries", len(ds))
	}
	got = h.patch(e.ID, store.EndpointPatch{Enabled: new(true)})
	if got.Disabled || got.DisabledReason != "" || got.FailingSince != nil {
		h.Fatalf("enabling a disabled endpoint: disabled %v, reason %q, failing since %s",
			got.Disabled, got.DisabledReason, fmtTimePtr(got.FailingSince))
	}
	if d := h.event1("", "x", t0); d == nil || d.EndpointID != e.ID {
		h.Fatalf("re-enabled endpoint got no delivery")
	}
	got = h.patch(e.ID, store.EndpointPatch{Enabled: new(false)})
	if !got.Disabled || got.DisabledReason != "manual" {
		h.Fatalf("disabling by hand: disabled %v, reason %q", got.Disabled, got.DisabledReason)
	}
	if jobs := h.claim(t0.Add(time.Minute), 10); len(jobs) != 0 {
		h.Fatalf("claimed %d deliveries of an endpoint disabled by hand", len(jobs))
	}
}

// testConcurrentRotations runs rotations at once, each appending its
// secret to the secrets its fn is given: every one is kept. Rotations that
// read and then wrote the whole row lost all but a few.
func testConcurrentRotations(h *harness) {
	const n = 16
	e := h.endpoint("", nil)
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			secret := store.Secret{Value: fmt.Sprintf("whsec_rotation_%02d", i), CreatedAt: now()}
			_, errs[i] = h.s.UpdateEndpoint(h.ctx, e.ID, func(cur *store.Endpoint) (store.EndpointPatch, error) {
				next := append([]store.Secret{secret}, cur.Secrets...)
				return store.EndpointPatch{Secrets: &next, UpdatedAt: now()}, nil
			})
		})
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.Fatalf("rotations: %v", err)
	}
	got := h.getEndpoint(e.ID)
	var values []string
	for _, s := range got.Secrets {
		values = append(values, s.Value)
	}
	want := []string{e.Secrets[0].Value}
	for i := range n {
		want = append(want, fmt.Sprintf("whsec_rotation_%02d", i))
	}
	if len(values) != n+1 {
		h.Fatalf("%d secrets after %d rotations, want %d: %v", len(values), n, n+1, values)
	}
	if values[n] != e.Secrets[0].Value {
		h.Fatalf("the original secret is not the oldest: %v", values)
	}
	slices.Sort(values)
	slices.Sort(want)
	h.wantIDs("secrets after concurrent rotations", values, want)
}

var errRefused = errors.New("refused by fn")

// testPatchFuncErrorAborts: an error from fn writes nothing and comes back
// wrapped, for endpoints and sources, also when other writes run at once
// (the SQLite store commits concurrent writes together).
func testPatchFuncErrorAborts(h *harness) {
	e := h.endpoint("", nil)
	before := h.getEndpoint(e.ID)
	_, err := h.s.UpdateEndpoint(h.ctx, e.ID, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Description: new("never"), UpdatedAt: now()}, fmt.Errorf("check: %w", errRefused)
	})
	wantErr(h, "UpdateEndpoint with a failing fn", err, errRefused)
	wantEndpoint(h, h.getEndpoint(e.ID), before)

	src := h.source("refusing", nil)
	_, err = h.s.UpdateSource(h.ctx, src.ID, func(*store.Source) (store.SourcePatch, error) {
		return store.SourcePatch{Description: new("never")}, errRefused
	})
	wantErr(h, "UpdateSource with a failing fn", err, errRefused)
	got, err := h.s.GetSource(h.ctx, src.ID)
	if err != nil {
		h.Fatalf("GetSource: %v", err)
	}
	wantSource(h, "source after a failing fn", got, src)

	// Failing and succeeding updates at once: each gets its own outcome.
	const n = 12
	others := make([]*store.Endpoint, n)
	for i := range others {
		others[i] = h.endpoint("", nil)
	}
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = h.s.UpdateEndpoint(h.ctx, others[i].ID, func(*store.Endpoint) (store.EndpointPatch, error) {
				if i%2 == 1 {
					return store.EndpointPatch{}, errRefused
				}
				return store.EndpointPatch{Description: new("updated")}, nil
			})
		})
	}
	close(start)
	wg.Wait()
	for i, o := range others {
		got := h.getEndpoint(o.ID)
		if i%2 == 1 {
			wantErr(h, fmt.Sprintf("concurrent update %d", i), errs[i], errRefused)
			if got.Description != o.Description {
				h.Fatalf("concurrent update %d: a failing fn's patch was written", i)
			}
		} else if errs[i] != nil || got.Description != "updated" {
			h.Fatalf("concurrent update %d: %v, description %q", i, errs[i], got.Description)
		}
	}
}

func newDestination(src *store.Source) *store.Endpoint {
	return newEndpoint(src.Tenant())
}

func (h *harness) tenantEndpoints(tenant string) []*store.Endpoint {
	h.Helper()
	list, _, err := h.s.ListEndpoints(h.ctx, store.EndpointFilter{Tenant: &tenant, Page: store.Page{Limit: 1000}})
	if err != nil {
		h.Fatalf("ListEndpoints: %v", err)
	}
	return list
}

// testCreateSourceAtomic: a source is created with its destinations or not
// at all. A destination that fails to insert (its id taken) leaves no
// source and no destination behind, and the name stays free.
func testCreateSourceAtomic(h *harness) {
	taken := h.endpoint("", nil)
	src := newSource("atomic")
	good, bad := newDestination(src), newDestination(src)
	bad.ID = taken.ID
	err := h.s.CreateSource(h.ctx, src, []*store.Endpoint{good, bad})
	wantErr(h, "CreateSource with a taken destination id", err, store.ErrConflict)
	_, err = h.s.GetSource(h.ctx, src.ID)
	wantErr(h, "GetSource after a failed CreateSource", err, store.ErrNotFound)
	_, err = h.s.SourceByName(h.ctx, src.Name)
	wantErr(h, "SourceByName after a failed CreateSource", err, store.ErrNotFound)
	if eps := h.tenantEndpoints(src.Tenant()); len(eps) != 0 {
		h.Fatalf("a failed CreateSource left %d destinations", len(eps))
	}
	if got := h.getEndpoint(taken.ID); got.Tenant != "" {
		h.Fatalf("the endpoint whose id was taken changed: %+v", got)
	}

	// Again, rightly: all of it is stored.
	bad.ID = store.NewID("ep")
	if err := h.s.CreateSource(h.ctx, src, []*store.Endpoint{good, bad}); err != nil {
		h.Fatalf("CreateSource: %v", err)
	}
	got, err := h.s.SourceByName(h.ctx, src.Name)
	if err != nil {
		h.Fatalf("SourceByName: %v", err)
	}
	wantSource(h, "created source", got, src)
	var ids []string
	for _, e := range h.tenantEndpoints(src.Tenant()) {
		ids = append(ids, e.ID)
	}
	h.wantIDs("destinations", sorted(ids...), sorted(good.ID, bad.ID))
	wantEndpoint(h, h.getEndpoint(good.ID), good)
	// And the destinations take the source's events at once.
	if _, ds := h.event(src.Tenant(), src.EventType(), t0); len(ds) != 2 {
		h.Fatalf("an event of the new source made %d deliveries, want 2", len(ds))
	}

	// A second source of the same name fails whole too.
	again := newSource(src.Name)
	err = h.s.CreateSource(h.ctx, again, []*store.Endpoint{newDestination(again)})
	wantErr(h, "CreateSource with a taken name", err, store.ErrConflict)
	if eps := h.tenantEndpoints(src.Tenant()); len(eps) != 2 {
		h.Fatalf("a CreateSource refused for its name left %d destinations, want the 2 of the first", len(eps))
	}
}

// testDeleteSourceCascades: DeleteSource removes the source, its
// rejections and its destinations, canceling their pending deliveries, at
// once; its events and another tenant's deliveries stay.
func testDeleteSourceCascades(h *harness) {
	src := newSource("doomed")
	d1, d2 := newDestination(src), newDestination(src)
	d2.FIFO = true
	if err := h.s.CreateSource(h.ctx, src, []*store.Endpoint{d1, d2}); err != nil {
		h.Fatalf("CreateSource: %v", err)
	}
	h.endpoint("bystander", nil)
	ev, ds := h.event(src.Tenant(), src.EventType(), t0)
	if len(ds) != 2 {
		h.Fatalf("%d deliveries, want 2", len(ds))
	}
	h.event(src.Tenant(), src.EventType(), t0) // held behind the first on the FIFO destination
	other := h.event1("bystander", "x", t0)
	if err := h.s.AddRejection(h.ctx, &store.Rejection{ID: store.NewID("rej"), SourceID: src.ID, ReceivedAt: t0, Reason: "signature mismatch"}); err != nil {
		h.Fatalf("AddRejection: %v", err)
	}

	if err := h.s.DeleteSource(h.ctx, src.ID); err != nil {
		h.Fatalf("DeleteSource: %v", err)
	}
	_, err := h.s.GetSource(h.ctx, src.ID)
	wantErr(h, "GetSource after DeleteSource", err, store.ErrNotFound)
	if eps := h.tenantEndpoints(src.Tenant()); len(eps) != 0 {
		h.Fatalf("DeleteSource left %d destinations", len(eps))
	}
	list, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Tenant: new(src.Tenant()), Page: store.Page{Limit: 100}})
	if err != nil || len(list) != 4 {
		h.Fatalf("ListDeliveries of the source's tenant = %d, %v; want 4", len(list), err)
	}
	for _, d := range list {
		if d.Status != store.StatusCanceled {
			h.Fatalf("delivery %s to a deleted destination is %s, want canceled", d.ID, d.Status)
		}
	}
	h.wantStatus(other.ID, store.StatusPending)
	if _, err := h.s.GetEvent(h.ctx, ev.ID); err != nil {
		h.Fatalf("the source's event went with it: %v", err)
	}
	if rs, _, err := h.s.ListRejections(h.ctx, store.RejectionFilter{SourceID: src.ID}); err != nil || len(rs) != 0 {
		h.Fatalf("rejections after DeleteSource: %d, %v", len(rs), err)
	}
	if jobs := h.claim(t0.Add(time.Minute), 10); len(jobs) != 1 || jobs[0].Delivery.ID != other.ID {
		h.Fatalf("claimed %v after DeleteSource, want only the bystander's delivery", jobIDs(jobs))
	}
	wantErr(h, "DeleteSource again", h.s.DeleteSource(h.ctx, src.ID), store.ErrNotFound)
	// The name, and so the tenant, can be used again, from scratch.
	again := newSource(src.Name)
	if err := h.s.CreateSource(h.ctx, again, []*store.Endpoint{newDestination(again)}); err != nil {
		h.Fatalf("CreateSource after DeleteSource: %v", err)
	}
}

// testUpdateSourcePartial: an UpdateSource patch writes only the fields it
// names; the secrets and the Zoom secret, sealed together, each keep their
// value when the patch names only the other.
func testUpdateSourcePartial(h *harness) {
	src := h.source("partial", func(s *store.Source) {
		s.Tolerance = 90 * time.Second
		s.SlackChallenge = true
		s.ZoomSecret = store.Secret{Value: "zoom-token", CreatedAt: now()}
	})
	at := now().Add(time.Second)
	got, err := h.s.UpdateSource(h.ctx, src.ID, func(cur *store.Source) (store.SourcePatch, error) {
		return store.SourcePatch{Description: new("only this"), UpdatedAt: at}, nil
	})
	if err != nil {
		h.Fatalf("UpdateSource: %v", err)
	}
	want := *src
	want.Description, want.UpdatedAt = "only this", at
	wantSource(h, "after a description patch", got, &want)

	rotated := []store.Secret{{Value: "rotated", CreatedAt: now()}}
	if got, err = h.s.UpdateSource(h.ctx, src.ID, func(cur *store.Source) (store.SourcePatch, error) {
		return store.SourcePatch{Secrets: &rotated, UpdatedAt: at}, nil
	}); err != nil {
		h.Fatalf("UpdateSource: %v", err)
	}
	want.Secrets = rotated
	wantSource(h, "after a secrets patch", got, &want)

	if got, err = h.s.UpdateSource(h.ctx, src.ID, func(cur *store.Source) (store.SourcePatch, error) {
		return store.SourcePatch{ZoomSecret: &store.Secret{}, Tolerance: new(time.Duration(0)), UpdatedAt: at}, nil
	}); err != nil {
		h.Fatalf("UpdateSource: %v", err)
	}
	want.ZoomSecret, want.Tolerance = store.Secret{}, 0
	wantSource(h, "after a Zoom secret patch", got, &want)
	read, err := h.s.GetSource(h.ctx, src.ID)
	if err != nil {
		h.Fatalf("GetSource: %v", err)
	}
	wantSource(h, "GetSource after the patches", read, &want)
}
