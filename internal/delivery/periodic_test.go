package delivery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookrelay/hookrelay/internal/store"
)

// fakeLeader leads when told to and counts how often it is asked.
type fakeLeader struct {
	leading atomic.Bool
	checks  atomic.Int64
}

func (f *fakeLeader) Check(context.Context) bool {
	f.checks.Add(1)
	return f.leading.Load()
}

// TestEngineRetention: a delivered event is pruned, with its delivery and
// attempts, once older than Retention; a pending delivery and its event
// stay whatever their age.
func TestEngineRetention(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	b := setup(t, Config{AllowPrivateNetworks: true, Retention: 300 * time.Millisecond, Registerer: reg,
		RetrySchedule: []time.Duration{time.Hour}})
	ok := newReceiver(t, nil)
	down := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	b.endpoint(t, ok.URL, "github", []string{"s"}, func(e *store.Endpoint) { e.EventTypes = []string{"ok"} })
	b.endpoint(t, down.URL, "github", []string{"s"}, func(e *store.Endpoint) { e.EventTypes = []string{"down"} })
	b.start(t)
	ev, ds := b.accept(t, "ok", `{"n":1}`)
	evDown, dsDown := b.accept(t, "down", `{"n":2}`)
	waitFor(t, 5*time.Second, func() bool { return ok.count() == 1 && down.count() == 1 },
		func() string { return "the events were not attempted" })
	waitFor(t, 5*time.Second, func() bool {
		_, err := b.store.GetDelivery(context.Background(), ds[0].ID)
		return errors.Is(err, store.ErrNotFound)
	}, func() string { return "the delivered delivery was not pruned" })
	waitFor(t, 5*time.Second, func() bool {
		_, err := b.store.GetEvent(context.Background(), ev.ID)
		return errors.Is(err, store.ErrNotFound)
	}, func() string { return "the delivered event was not pruned" })
	if d := b.delivery(t, dsDown[0].ID); d.Status != store.StatusPending {
		t.Errorf("the pending delivery is %s", d.Status)
	}
	if _, err := b.store.GetEvent(context.Background(), evDown.ID); err != nil {
		t.Errorf("the pending delivery's event: %v", err)
	}
	// The counter moves once Prune has returned, a moment after the rows
	// are gone.
	var pruned float64
	waitFor(t, 5*time.Second, func() bool {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		pruned = 0
		for _, mf := range mfs {
			if mf.GetName() != "hookrelay_pruned_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "table" && l.GetValue() == "deliveries" {
						pruned += m.GetCounter().GetValue()
					}
				}
			}
		}
		return pruned >= 1
	}, func() string { return fmt.Sprintf("hookrelay_pruned_total{table=deliveries} = %v", pruned) })
}

// TestEngineFollower: a node that does not lead runs neither retention nor
// auto-disable, asks again before each run, and runs them once it leads.
func TestEngineFollower(t *testing.T) {
	t.Parallel()
	var lead fakeLeader
	b := setup(t, Config{AllowPrivateNetworks: true, Retention: 200 * time.Millisecond, DisableAfter: 200 * time.Millisecond, Leader: &lead,
		RetrySchedule: []time.Duration{50 * time.Millisecond, 50 * time.Millisecond, 50 * time.Millisecond, time.Hour}})
	ok := newReceiver(t, nil)
	down := newReceiver(t, func(w http.ResponseWriter, _ *http.Request, _ int, _ []byte) {
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	b.endpoint(t, ok.URL, "github", []string{"s"}, func(e *store.Endpoint) { e.EventTypes = []string{"ok"} })
	failing := b.endpoint(t, down.URL, "github", []string{"s"}, func(e *store.Endpoint) { e.EventTypes = []string{"down"} })
	b.start(t)
	_, ds := b.accept(t, "ok", `{}`)
	b.accept(t, "down", `{}`)
	b.waitStatus(t, ds[0].ID, store.StatusSucceeded, 5*time.Second)
	waitFor(t, 5*time.Second, func() bool { return lead.checks.Load() >= 10 },
		func() string { return "the periodic jobs do not ask the leader before each run" })
	if _, err := b.store.GetDelivery(context.Background(), ds[0].ID); err != nil {
		t.Fatalf("a follower pruned: %v", err)
	}
	if ep, err := b.store.GetEndpoint(context.Background(), failing.ID); err != nil || ep.Disabled {
		t.Fatalf("a follower disabled an endpoint: %v", err)
	}

	lead.leading.Store(true)
	waitFor(t, 5*time.Second, func() bool {
		_, err := b.store.GetDelivery(context.Background(), ds[0].ID)
		return errors.Is(err, store.ErrNotFound)
	}, func() string { return "the leader did not prune" })
	waitFor(t, 5*time.Second, func() bool {
		ep, err := b.store.GetEndpoint(context.Background(), failing.ID)
		return err == nil && ep.Disabled && strings.HasPrefix(ep.DisabledReason, "auto:")
	}, func() string { return "the leader did not disable the failing endpoint" })
}

func TestRetentionDefaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	if b.engine.cfg.Retention != 30*24*time.Hour || b.engine.cfg.PruneBatch != store.DefaultPruneBatch {
		t.Errorf("defaults: retention %v, batch %d", b.engine.cfg.Retention, b.engine.cfg.PruneBatch)
	}
	if _, err := New(Config{Store: b.store, PruneBatch: -1}); err == nil {
		t.Error("a negative PruneBatch accepted")
	}
}
