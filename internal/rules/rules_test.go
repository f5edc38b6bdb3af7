package rules_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/signature"
)

// testClock is a clock the test moves.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type bundle struct {
	st    store.Store
	rules *rules.Rules
	clock *testClock
}

// setup opens rules on a real SQLite store in a temporary directory.
func setup(t *testing.T, mutate func(*rules.Config)) *bundle {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rules.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &bundle{st: st, clock: &testClock{now: time.UnixMilli(1_800_000_000_000).UTC()}}
	cfg := rules.Config{Store: st, AllowPrivateNetworks: true, Now: b.clock.Now}
	if mutate != nil {
		mutate(&cfg)
	}
	if b.rules, err = rules.New(cfg); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) endpoint(t *testing.T, spec rules.EndpointSpec) *store.Endpoint {
	t.Helper()
	if spec.URL == "" {
		spec.URL = "http://127.0.0.1:9/hook"
	}
	e, _, err := b.rules.CreateEndpoint(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fields returns the names of the fields err's field errors name.
func fields(err error) []string {
	var out []string
	for _, f := range rules.Fields(err) {
		out = append(out, f.Field)
	}
	return out
}

func TestNewNeedsStore(t *testing.T) {
	t.Parallel()
	if _, err := rules.New(rules.Config{}); err == nil {
		t.Fatal("New without a store succeeded")
	}
}

func TestCreateEndpointReportsEveryField(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rules.Config) { c.AllowPrivateNetworks = false })
	_, _, err := b.rules.CreateEndpoint(context.Background(), rules.EndpointSpec{
		Tenant: " t", URL: "http://127.0.0.1/hook", Description: "a\x00b",
		EventTypes: []string{"bad*type"}, RateLimit: math.Inf(1), Scheme: "standard", Secret: "not a secret",
	})
	got := strings.Join(fields(err), ",")
	if got != "tenant,url,description,rate_limit,event_types,secret" {
		t.Fatalf("fields %q (%v)", got, err)
	}
	if strings.Contains(err.Error(), "not a secret") {
		t.Error("the error holds the secret")
	}
}

func TestCustomSchemeUnknownFieldRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	custom := []byte(`{"shoe_size":42}`)
	_, _, err := b.rules.CreateEndpoint(context.Background(), rules.EndpointSpec{URL: "http://127.0.0.1:9/", Scheme: "custom", CustomScheme: custom})
	if fs := rules.Fields(err); len(fs) != 1 || fs[0].Field != "custom_scheme" || !strings.Contains(fs[0].Reason, "shoe_size") {
		t.Fatalf("unknown custom field: %v", err)
	}
}

func TestSourceTenantRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	_, _, err := b.rules.CreateEndpoint(context.Background(), rules.EndpointSpec{URL: "http://127.0.0.1:9/", Tenant: "source:github"})
	if got := fields(err); len(got) != 1 || got[0] != "tenant" {
		t.Fatalf("source tenant: %v", err)
	}
}

// An update that does not name Enabled leaves the engine's auto-disable
// alone: before the store wrote only what changed, it wrote the whole row
// it had read, and re-enabled the endpoint.
func TestUpdateKeepsAutoDisable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint(t, rules.EndpointSpec{})
	failing := b.clock.Now().Add(-time.Hour)
	// Mark it failing, as the engine's CompleteAttempts would.
	ev := &store.Event{ID: store.NewID("evt"), Type: "t", Payload: []byte(`{}`), CreatedAt: b.clock.Now()}
	_, ds, err := b.st.CreateEvent(ctx, ev, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := b.st.ClaimDueDeliveries(ctx, store.ClaimParams{Now: b.clock.Now(), Lease: time.Minute, Limit: 10})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("claim: %v, %d jobs", err, len(jobs))
	}
	if _, err := b.st.CompleteAttempts(ctx, []store.AttemptResult{{
		DeliveryID: ds[0].ID, Claim: jobs[0].Delivery.Claim, Status: store.StatusPending, NextAttemptAt: b.clock.Now().Add(time.Hour),
		Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: ds[0].ID, EndpointID: e.ID, EventID: ev.ID, Number: 1, StartedAt: failing, StatusCode: 500},
	}}); err != nil {
		t.Fatal(err)
	}
	// A person reads the endpoint, the engine disables it, then the
	// person's change lands.
	if _, err := b.rules.GetEndpoint(ctx, e.ID, nil); err != nil {
		t.Fatal(err)
	}
	if d, err := b.st.DisableFailingEndpoints(ctx, b.clock.Now(), "auto: failing"); err != nil || len(d) != 1 {
		t.Fatalf("disable: %v, %d", err, len(d))
	}
	got, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Description: new("new words")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Disabled || got.DisabledReason != "auto: failing" || got.FailingSince == nil || got.Description != "new words" {
		t.Fatalf("after the update: disabled %v (%q), failing since %v, description %q", got.Disabled, got.DisabledReason, got.FailingSince, got.Description)
	}
	// Enabling it by hand is a fresh start.
	got, _, err = b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Enabled: new(true)}, nil)
	if err != nil || got.Disabled || got.FailingSince != nil || got.DisabledReason != "" {
		t.Fatalf("re-enabled: %+v, %v", got, err)
	}
}

// Concurrent rotations each keep the secrets the others added.
func TestConcurrentRotations(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	e := b.endpoint(t, rules.EndpointSpec{})
	const n = 8
	overlap := time.Hour
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, _, err := b.rules.RotateSecret(context.Background(), e.ID, rules.Rotation{Overlap: &overlap}, nil)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.rules.GetEndpoint(context.Background(), e.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != n+1 {
		t.Fatalf("%d secrets after %d rotations, want %d", len(got.Secrets), n, n+1)
	}
}

func TestRotationOverlapRange(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	e := b.endpoint(t, rules.EndpointSpec{})
	for _, secs := range []int64{-1, 2592001, 9223372037, math.MaxInt64} {
		d := rules.Seconds(secs)
		_, _, err := b.rules.RotateSecret(context.Background(), e.ID, rules.Rotation{Overlap: &d}, nil)
		if got := fields(err); len(got) != 1 || got[0] != "overlap_seconds" {
			t.Errorf("overlap %d s: %v", secs, err)
		}
	}
	got, _ := b.rules.GetEndpoint(context.Background(), e.ID, nil)
	if len(got.Secrets) != 1 {
		t.Errorf("a refused rotation changed the secrets: %d", len(got.Secrets))
	}
}

func TestWithinHidesOtherTenants(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	e := b.endpoint(t, rules.EndpointSpec{Tenant: "acme"})
	other := "globex"
	ctx := context.Background()
	if _, err := b.rules.GetEndpoint(ctx, e.ID, &other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if _, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Description: new("x")}, &other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update: %v", err)
	}
	if _, _, err := b.rules.RotateSecret(ctx, e.ID, rules.Rotation{}, &other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate: %v", err)
	}
	if err := b.rules.DeleteEndpoint(ctx, e.ID, &other); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete: %v", err)
	}
	if got, _ := b.rules.GetEndpoint(ctx, e.ID, nil); got == nil || got.Description != "" {
		t.Errorf("the endpoint changed: %+v", got)
	}
}

func TestEndpointsPerTenant(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rules.Config) { c.MaxEndpointsPerTenant = 3 })
	for range 3 {
		b.endpoint(t, rules.EndpointSpec{Tenant: "acme"})
	}
	_, _, err := b.rules.CreateEndpoint(context.Background(), rules.EndpointSpec{Tenant: "acme", URL: "http://127.0.0.1:9/"})
	if got := fields(err); len(got) != 1 || got[0] != "tenant" {
		t.Fatalf("fourth endpoint: %v", err)
	}
	b.endpoint(t, rules.EndpointSpec{Tenant: "globex"}) // another tenant has its own bound
}

func TestSchemeSwitch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint(t, rules.EndpointSpec{Scheme: "standard"})
	// A Standard Webhooks secret is not a Stripe one... but any string
	// is a GitHub secret: switching keeps it.
	got, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Scheme: new("github")}, nil)
	if err != nil || got.Scheme != "github" || got.Secrets[0].Value != e.Secrets[0].Value {
		t.Fatalf("switch to github: %+v, %v", got, err)
	}
	if _, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Scheme: new("none")}, nil); strings.Join(fields(err), ",") != "scheme" {
		t.Errorf("scheme none on an endpoint that is no destination: %v", err)
	}
	if _, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Scheme: new("nope")}, nil); strings.Join(fields(err), ",") != "scheme" {
		t.Errorf("unknown scheme: %v", err)
	}
}

func TestCheckWindows(t *testing.T) {
	t.Parallel()
	github, _ := signature.Lookup("github")
	stripe, _ := signature.Lookup("stripe") // tolerance 5 minutes
	for _, tc := range []struct {
		name        string
		scheme      *signature.Scheme
		tol, dedupe time.Duration
		want        time.Duration
		field, msg  string
	}{
		{"defaults", github, 0, 0, rules.DefaultDedupeWindow, "", ""},
		{"explicit", stripe, time.Minute, time.Hour, time.Hour, "", ""},
		{"twice the tolerance", stripe, 10 * time.Minute, 20 * time.Minute, 20 * time.Minute, "", ""},
		// The replay the audit found: tolerance 60 s, window 60 s, the
		// request resent at 65 s was delivered twice.
		{"window equal to the tolerance", stripe, time.Minute, time.Minute, 0, "dedupe_window_seconds", "at least 120 seconds"},
		{"default grows with a long tolerance", stripe, 20 * time.Hour, 0, 40 * time.Hour, "", ""},
		{"negative tolerance", github, -time.Second, 0, 0, "tolerance_seconds", "must be from 0"},
		{"tolerance too long", github, rules.MaxTolerance + time.Second, 0, 0, "tolerance_seconds", "86400 seconds"},
		{"huge tolerance", github, rules.Seconds(9223372037), 0, 0, "tolerance_seconds", "86400 seconds"},
		{"window too long", github, 0, rules.MaxDedupeWindow + time.Second, 0, "dedupe_window_seconds", "2592000 seconds"},
		{"window under a minute", github, 0, 30 * time.Second, 0, "dedupe_window_seconds", "at least 60 seconds"},
		{"window under twice the scheme's tolerance", stripe, 0, 9 * time.Minute, 0, "dedupe_window_seconds", "at least 600 seconds"},
	} {
		got, err := rules.CheckWindows(tc.scheme, tc.tol, tc.dedupe)
		if tc.field == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: CheckWindows = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			continue
		}
		fs := rules.Fields(err)
		if len(fs) != 1 || fs[0].Field != tc.field || !strings.Contains(fs[0].Reason, tc.msg) {
			t.Errorf("%s: CheckWindows error %v, want %s with %q", tc.name, err, tc.field, tc.msg)
		}
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	if got := rules.Seconds(90); got != 90*time.Second {
		t.Errorf("Seconds(90) = %v", got)
	}
	// Saturated, not wrapped around into a valid range.
	if got := rules.Seconds(9223372037); got < rules.MaxRotationOverlap {
		t.Errorf("Seconds(9223372037) = %v", got)
	}
	if got := rules.Seconds(math.MinInt64); got >= 0 {
		t.Errorf("Seconds(MinInt64) = %v", got)
	}
}

func TestCreateSourceWithDestinations(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	// A bad destination: nothing is created.
	_, err := b.rules.CreateSource(ctx, rules.SourceSpec{Name: "github", Scheme: "github", Destinations: []rules.DestinationSpec{
		{URL: "http://127.0.0.1:9/a"}, {URL: "ftp://nope"},
	}})
	if got := strings.Join(fields(err), ","); got != "destinations[1].url" {
		t.Fatalf("bad destination: %v", err)
	}
	if _, err := b.st.SourceByName(ctx, "github"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a source was left behind: %v", err)
	}
	made, err := b.rules.CreateSource(ctx, rules.SourceSpec{Name: "github", Scheme: "github", Destinations: []rules.DestinationSpec{
		{URL: "http://127.0.0.1:9/a"}, {URL: "http://127.0.0.1:9/b", Scheme: "standard"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if made.Secret == "" || len(made.Source.Secrets) != 1 || made.DestinationSecrets[0] != "" || made.DestinationSecrets[1] == "" {
		t.Fatalf("made %+v", made)
	}
	dests, err := b.rules.Destinations(ctx, made.Source)
	if err != nil || len(dests) != 2 {
		t.Fatalf("destinations: %d, %v", len(dests), err)
	}
	if _, err := b.rules.CreateSource(ctx, rules.SourceSpec{Name: "github", Scheme: "github"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second source of the name: %v", err)
	}
}

func TestUpdateSource(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	made, err := b.rules.CreateSource(ctx, rules.SourceSpec{Name: "gh", Scheme: "github", Secrets: []string{"old"},
		Destinations: []rules.DestinationSpec{{URL: "http://127.0.0.1:9/a"}}})
	if err != nil {
		t.Fatal(err)
	}
	src := made.Source
	version := src.UpdatedAt
	b.clock.add(time.Second)
	// A rotation that keeps the old secret keeps its times; destinations
	// come and go with it.
	got, err := b.rules.UpdateSource(ctx, src.ID, rules.SourceChange{
		Secrets: &[]string{"new", "old"}, IfUpdatedAt: &version,
		AddDestinations:    []rules.DestinationSpec{{URL: "http://127.0.0.1:9/b"}},
		RemoveDestinations: []string{made.Destinations[0].ID},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 2 || got.Secrets[0].Value != "new" || !got.Secrets[1].CreatedAt.Equal(src.Secrets[0].CreatedAt) {
		t.Fatalf("secrets %+v", got.Secrets)
	}
	dests, _ := b.rules.Destinations(ctx, got)
	if len(dests) != 1 || dests[0].URL != "http://127.0.0.1:9/b" {
		t.Fatalf("destinations after the change: %+v", dests)
	}
	// A form filled from the first version is stale now.
	_, err = b.rules.UpdateSource(ctx, src.ID, rules.SourceChange{Description: new("x"), IfUpdatedAt: &version})
	if !errors.Is(err, rules.ErrChanged) {
		t.Fatalf("stale change: %v", err)
	}
	if _, err := b.rules.UpdateSource(ctx, src.ID, rules.SourceChange{Name: new("other")}); strings.Join(fields(err), ",") != "name" {
		t.Errorf("rename: %v", err)
	}
	if err := b.rules.DeleteSource(ctx, src.ID); err != nil {
		t.Fatal(err)
	}
	if dests, _ := b.rules.Destinations(ctx, got); len(dests) != 0 {
		t.Errorf("destinations outlived their source: %d", len(dests))
	}
}

func TestRotateKeepsAtMostTenSecrets(t *testing.T) {
	t.Parallel()
	var old []store.Secret
	now := time.Now()
	for i := range 15 {
		old = rules.Rotate(old, fmt.Sprint("s", i), now.Add(time.Duration(i)*time.Second), time.Hour)
	}
	if len(old) != rules.MaxSecrets || old[0].Value != "s14" || old[9].Value != "s5" {
		t.Errorf("kept %d secrets, first %s last %s", len(old), old[0].Value, old[len(old)-1].Value)
	}
}

// BenchmarkCreateEndpointBusyTenant creates endpoints in a tenant that has
// 900 already, under a bound it never reaches: the bound is checked on
// every creation.
func BenchmarkCreateEndpointBusyTenant(b *testing.B) {
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "rules.db"), &sqlite.Config{Cipher: box})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	r, err := rules.New(rules.Config{Store: st, AllowPrivateNetworks: true, MaxEndpointsPerTenant: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	spec := rules.EndpointSpec{Tenant: "acme", URL: "http://127.0.0.1:9/hook"}
	for range 900 {
		if _, _, err := r.CreateEndpoint(b.Context(), spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := r.CreateEndpoint(b.Context(), spec); err != nil {
			b.Fatal(err)
		}
	}
}

// TestTraceContext checks that the trace_context setting is stored at
// creation, changed by an update that names it, and kept by one that does
// not.
func TestTraceContext(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint(t, rules.EndpointSpec{URL: "http://127.0.0.1:9/", TraceContext: true})
	if got, err := b.st.GetEndpoint(ctx, e.ID); err != nil || !got.TraceContext {
		t.Fatalf("created with TraceContext: stored %+v, %v", got, err)
	}
	got, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Description: new("x")}, nil)
	if err != nil || !got.TraceContext {
		t.Fatalf("update of another field: TraceContext %v, %v; want kept", got.TraceContext, err)
	}
	got, _, err = b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{TraceContext: new(false)}, nil)
	if err != nil || got.TraceContext {
		t.Fatalf("update TraceContext false: %v, %v", got.TraceContext, err)
	}
}

// TestOperatorTenantReserved: nobody creates endpoints or events in the
// operator tenant; the operational webhooks are the store's to write.
func TestOperatorTenantReserved(t *testing.T) {
	t.Parallel()
	if err := rules.CheckOwnTenant(store.OperatorTenant); err == nil {
		t.Errorf("CheckOwnTenant(%q) = nil, want a field error", store.OperatorTenant)
	}
	if err := rules.CheckOwnTenant("acme"); err != nil {
		t.Errorf("CheckOwnTenant(acme) = %v", err)
	}
}
