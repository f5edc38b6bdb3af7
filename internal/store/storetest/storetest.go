// Package storetest is the conformance suite of store.Store. Every
// implementation runs it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s := openTestStore(t) // a fresh, empty database
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Run exercises every method and every rule documented on store.Store and
// the types it uses. Each subtest calls open for a database of its own and
// runs in parallel with the others, so open must return an empty store that
// shares nothing with the others, and arrange its own cleanup. The stores
// open returns must all seal secrets with the same Cipher key: the export
// test moves sealed secrets from one to another; and they must index the
// payload paths SearchFields (their Config.SearchFields).
//
// RunNodes runs the tests of what must hold across several Stores on one
// database, as several hookrelay nodes use it: the per-endpoint limits of
// store.ClaimParams, under claims racing from every Store. Its open
// returns n Stores on one fresh database; an implementation that allows a
// single Store per database returns it n times.
//
// Times given to the store are whole milliseconds, since stores keep Unix
// milliseconds; times read back are compared with Equal.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// Run runs the conformance suite against the stores open returns.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(h *harness)
	}{
		{"EndpointCRUD", testEndpointCRUD},
		{"EndpointSecrets", testEndpointSecrets},
		{"EndpointSettings", testEndpointSettings},
		{"ListEndpoints", testListEndpoints},
		{"EventRoundTrip", testEventRoundTrip},
		{"Idempotency", testIdempotency},
		{"IdempotencyRace", testIdempotencyRace},
		{"FanOut", testFanOut},
		{"FanOutFollowsEndpointChanges", testFanOutFollowsEndpointChanges},
		{"FanOutFilters", testFanOutFilters},
		{"ClaimAndComplete", testClaimAndComplete},
		{"ClaimNotDue", testClaimNotDue},
		{"ClaimOldestDueFirst", testClaimOldestDueFirst},
		{"RetryLater", testRetryLater},
		{"LeaseExpiry", testLeaseExpiry},
		{"StaleCompletion", testStaleCompletion},
		{"DisabledEndpoint", testDisabledEndpoint},
		{"FIFO", testFIFO},
		{"FIFOChanges", testFIFOChanges},
		{"ExcludeEndpoints", testExcludeEndpoints},
		{"DeleteEndpointCancels", testDeleteEndpointCancels},
		{"RetryDelivery", testRetryDelivery},
		{"ReplayFailed", testReplayFailed},
		{"FailingSince", testFailingSince},
		{"DisableFailingEndpoints", testDisableFailingEndpoints},
		{"QueueStats", testQueueStats},
		{"ListDeliveries", testListDeliveries},
		{"ListDeliveriesPagination", testListDeliveriesPagination},
		{"APIKeys", testAPIKeys},
		{"APIKeyAccess", testAPIKeyAccess},
		{"TouchAPIKey", testTouchAPIKey},
		{"Audit", testAudit},
		{"ConcurrentWrites", testConcurrentWrites},
		{"ConcurrentQueue", testConcurrentQueue},
		{"Ping", testPing},
		{"Health", testHealth},
	}
	tests = append(tests, sourceTests...)    // sources.go
	tests = append(tests, writeTests...)     // writes.go
	tests = append(tests, historyTests...)   // history.go
	tests = append(tests, limitTests...)     // limits.go
	tests = append(tests, hardenTests...)    // harden.go
	tests = append(tests, operatorTests...)  // operator.go
	tests = append(tests, catalogTests...)   // eventtypes.go
	tests = append(tests, replayTests...)    // replay.go
	tests = append(tests, replayJobTests...) // replayjobs.go
	tests = append(tests, statsTests...)     // stats.go
	tests = append(tests, batchTests...)     // batch.go
	tests = append(tests, eraseTests...)     // erase.go
	tests = append(tests, searchTests...)    // search.go
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := &harness{T: t, s: open(t), ctx: t.Context(), open: open}
			tc.fn(h)
		})
	}
}

// t0 is the suite's reference time: the queue runs on the times the tests
// give it, not on the clock.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const lease = 30 * time.Second

type harness struct {
	*testing.T
	s   store.Store
	ctx context.Context
	// open opens another empty store, for tests that need two.
	open func(t *testing.T) store.Store
	// nodes are the Stores of one database, for the tests of RunNodes
	// (nodes[0] is s); nil in those of Run.
	nodes []store.Store
}

func randomString(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// now is the wall clock to the millisecond, for fields the store compares
// with the wall clock (secret expiry on reads).
func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// newEndpoint returns an endpoint of tenant, not yet created, with one
// secret and no event type filter.
func newEndpoint(tenant string) *store.Endpoint {
	n := now()
	return &store.Endpoint{
		ID:          store.NewID("ep"),
		Tenant:      tenant,
		URL:         "https://example.com/hooks/" + randomString(6),
		Description: "test endpoint",
		Scheme:      "standard",
		Secrets:     []store.Secret{{Value: "whsec_" + randomString(32), CreatedAt: n}},
		CreatedAt:   n,
		UpdatedAt:   n,
	}
}

// endpoint creates an endpoint of tenant after applying mod to it.
func (h *harness) endpoint(tenant string, mod func(e *store.Endpoint)) *store.Endpoint {
	h.Helper()
	e := newEndpoint(tenant)
	if mod != nil {
		mod(e)
	}
	if err := h.s.CreateEndpoint(h.ctx, e); err != nil {
		h.Fatalf("CreateEndpoint: %v", err)
	}
	return e
}

// update writes every field of e that a patch can name, Enabled from
// e.Disabled.
func (h *harness) update(e *store.Endpoint) {
	h.Helper()
	e.UpdatedAt = now()
	if _, err := h.s.UpdateEndpoint(h.ctx, e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return fullPatch(e), nil
	}); err != nil {
		h.Fatalf("UpdateEndpoint: %v", err)
	}
}

// fullPatch is the patch that names every field of e it can, Enabled
// from e.Disabled.
func fullPatch(e *store.Endpoint) store.EndpointPatch {
	p := store.PatchOf(e)
	p.Enabled = new(!e.Disabled)
	return p
}

func newEvent(tenant, typ string, at time.Time) *store.Event {
	return &store.Event{
		ID:        store.NewID("evt"),
		Tenant:    tenant,
		Type:      typ,
		Payload:   []byte(`{"type":"` + typ + `","n":` + fmt.Sprint(at.UnixMilli()) + `}`),
		CreatedAt: at,
	}
}

// event creates an event with no idempotency key and returns its
// deliveries.
func (h *harness) event(tenant, typ string, at time.Time) (*store.Event, []*store.Delivery) {
	h.Helper()
	ev, ds, err := h.s.CreateEvent(h.ctx, newEvent(tenant, typ, at), time.Time{})
	if err != nil {
		h.Fatalf("CreateEvent: %v", err)
	}
	return ev, ds
}

// event1 creates an event that must have exactly one delivery.
func (h *harness) event1(tenant, typ string, at time.Time) *store.Delivery {
	h.Helper()
	_, ds := h.event(tenant, typ, at)
	if len(ds) != 1 {
		h.Fatalf("CreateEvent(%s) made %d deliveries, want 1", typ, len(ds))
	}
	return ds[0]
}

func (h *harness) claim(at time.Time, limit int, exclude ...string) []*store.Job {
	h.Helper()
	jobs, err := h.s.ClaimDueDeliveries(h.ctx, store.ClaimParams{Now: at, Lease: lease, Limit: limit, ExcludeEndpoints: exclude})
	if err != nil {
		h.Fatalf("ClaimDueDeliveries: %v", err)
	}
	return jobs
}

// claimIDs claims and returns the claimed delivery ids, sorted.
func (h *harness) claimIDs(at time.Time, limit int, exclude ...string) []string {
	h.Helper()
	return jobIDs(h.claim(at, limit, exclude...))
}

func jobIDs(jobs []*store.Job) []string {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.Delivery.ID
	}
	slices.Sort(ids)
	return ids
}

func deliveryIDs(ds []*store.Delivery) []string {
	ids := make([]string, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	slices.Sort(ids)
	return ids
}

// result builds the AttemptResult of one attempt of a job.
func result(j *store.Job, status store.DeliveryStatus, code int, startedAt, next time.Time) store.AttemptResult {
	r := store.AttemptResult{
		DeliveryID: j.Delivery.ID,
		Claim:      j.Delivery.Claim,
		Attempt: store.Attempt{
			ID:             store.NewID("att"),
			DeliveryID:     j.Delivery.ID,
			EndpointID:     j.Endpoint.ID,
			EventID:        j.Event.ID,
			Number:         j.Delivery.Attempts + 1,
			StartedAt:      startedAt,
			Duration:       12345678 * time.Nanosecond,
			URL:            j.Endpoint.URL,
			RequestHeaders: map[string]string{"Content-Type": "application/json", "Webhook-Id": j.Delivery.ID},
			StatusCode:     code,
			ResponseBody:   []byte("ok"),
			Trigger:        "scheduled",
		},
		Status:        status,
		NextAttemptAt: next,
	}
	if code == 0 {
		r.Attempt.Error = "dial tcp: connection refused"
		r.Attempt.ResponseBody = nil
	}
	return r
}

func (h *harness) complete(results ...store.AttemptResult) []int {
	h.Helper()
	lost, err := h.s.CompleteAttempts(h.ctx, results)
	if err != nil {
		h.Fatalf("CompleteAttempts: %v", err)
	}
	return lost
}

// succeed completes jobs with a 200.
func (h *harness) succeed(at time.Time, jobs ...*store.Job) {
	h.Helper()
	var rs []store.AttemptResult
	for _, j := range jobs {
		rs = append(rs, result(j, store.StatusSucceeded, 200, at, time.Time{}))
	}
	if lost := h.complete(rs...); len(lost) != 0 {
		h.Fatalf("CompleteAttempts lost %v, want none", lost)
	}
}

// fail completes jobs with a final 500.
func (h *harness) fail(at time.Time, jobs ...*store.Job) {
	h.Helper()
	var rs []store.AttemptResult
	for _, j := range jobs {
		rs = append(rs, result(j, store.StatusFailed, 500, at, time.Time{}))
	}
	if lost := h.complete(rs...); len(lost) != 0 {
		h.Fatalf("CompleteAttempts lost %v, want none", lost)
	}
}

func (h *harness) delivery(id string) *store.Delivery {
	h.Helper()
	d, err := h.s.GetDelivery(h.ctx, id)
	if err != nil {
		h.Fatalf("GetDelivery(%s): %v", id, err)
	}
	return d
}

func (h *harness) getEndpoint(id string) *store.Endpoint {
	h.Helper()
	e, err := h.s.GetEndpoint(h.ctx, id)
	if err != nil {
		h.Fatalf("GetEndpoint(%s): %v", id, err)
	}
	return e
}

func (h *harness) wantStatus(id string, want store.DeliveryStatus) *store.Delivery {
	h.Helper()
	d := h.delivery(id)
	if d.Status != want {
		h.Fatalf("delivery %s status = %s, want %s", id, d.Status, want)
	}
	return d
}

func (h *harness) wantIDs(what string, got, want []string) {
	h.Helper()
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	if !slices.Equal(got, want) {
		h.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

// normTime makes times comparable with reflect.DeepEqual.
func normTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func normTimePtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	n := normTime(*t)
	return &n
}

func normEndpoint(e store.Endpoint) store.Endpoint {
	e.CreatedAt, e.UpdatedAt = normTime(e.CreatedAt), normTime(e.UpdatedAt)
	e.FailingSince = normTimePtr(e.FailingSince)
	if len(e.EventTypes) == 0 {
		e.EventTypes = nil
	}
	if len(e.CustomScheme) == 0 {
		e.CustomScheme = nil
	}
	var secrets []store.Secret
	for _, s := range e.Secrets {
		s.CreatedAt = normTime(s.CreatedAt)
		s.ExpiresAt = normTimePtr(s.ExpiresAt)
		secrets = append(secrets, s)
	}
	e.Secrets = secrets
	return e
}

// wantEndpoint compares endpoints field by field, secrets included.
func wantEndpoint(t testing.TB, got, want *store.Endpoint) {
	t.Helper()
	g, w := normEndpoint(*got), normEndpoint(*want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("endpoint mismatch\n got: %s\nwant: %s", dumpEndpoint(g), dumpEndpoint(w))
	}
}

func dumpEndpoint(e store.Endpoint) string {
	var secrets []string
	for _, s := range e.Secrets {
		secrets = append(secrets, fmt.Sprintf("{%q %v %s}", s.Value, s.CreatedAt, fmtTimePtr(s.ExpiresAt)))
	}
	e.Secrets = nil
	return fmt.Sprintf("%+v secrets=%v", e, secrets)
}

func normDelivery(d store.Delivery) store.Delivery {
	d.NextAttemptAt = normTime(d.NextAttemptAt)
	d.CreatedAt, d.UpdatedAt = normTime(d.CreatedAt), normTime(d.UpdatedAt)
	d.CompletedAt = normTimePtr(d.CompletedAt)
	return d
}

func wantDelivery(t testing.TB, got, want *store.Delivery) {
	t.Helper()
	if g, w := normDelivery(*got), normDelivery(*want); !reflect.DeepEqual(g, w) {
		t.Fatalf("delivery mismatch\n got: %+v\nwant: %+v", g, w)
	}
}

func testPing(h *harness) {
	if err := h.s.Ping(h.ctx); err != nil {
		h.Fatalf("Ping: %v", err)
	}
}
