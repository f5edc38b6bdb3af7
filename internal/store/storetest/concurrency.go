package storetest

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// testConcurrentWrites checks that concurrent writes that fail do not fail
// the others, whatever an implementation batches together.
func testConcurrentWrites(h *harness) {
	base := h.endpoint("", nil)
	const workers, ops = 12, 15
	var (
		wg     sync.WaitGroup
		events atomic.Int64
	)
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				var err error
				want := error(nil)
				switch (w + i) % 5 {
				case 0:
					_, ds, e := h.s.CreateEvent(h.ctx, newEvent("", "a", t0), time.Time{})
					err = e
					if e == nil {
						events.Add(1)
						if len(ds) != 1 {
							h.Errorf("CreateEvent made %d deliveries, want 1", len(ds))
						}
					}
				case 1:
					dup := newEndpoint("elsewhere")
					dup.ID = base.ID
					err, want = h.s.CreateEndpoint(h.ctx, dup), store.ErrConflict
				case 2:
					err = h.s.CreateEndpoint(h.ctx, newEndpoint("elsewhere"))
				case 3:
					_, err = h.s.UpdateEndpoint(h.ctx, newEndpoint("").ID, func(*store.Endpoint) (store.EndpointPatch, error) {
						return store.EndpointPatch{Description: new("x")}, nil
					})
					want = store.ErrNotFound
				case 4:
					_, err = h.s.RetryDelivery(h.ctx, "dlv_missing", t0)
					want = store.ErrNotFound
				}
				if want == nil && err != nil || want != nil && !errors.Is(err, want) {
					h.Errorf("worker %d op %d: err = %v, want %v", w, i, err, want)
				}
			}
		})
	}
	wg.Wait()
	list, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Page: store.Page{Limit: 1000}})
	if err != nil || int64(len(list)) != events.Load() {
		h.Fatalf("%d deliveries, %v; want %d", len(list), err, events.Load())
	}
	elsewhere := "elsewhere"
	eps, _, err := h.s.ListEndpoints(h.ctx, store.EndpointFilter{Tenant: &elsewhere, Page: store.Page{Limit: 1000}})
	if want := workers * ops / 5; err != nil || len(eps) != want {
		h.Fatalf("%d endpoints created, %v; want %d", len(eps), err, want)
	}
	wantEndpoint(h, h.getEndpoint(base.ID), base)
}

// testConcurrentQueue runs producers and workers at once: every delivery is
// completed exactly once, none is lost, and a FIFO endpoint never has two
// deliveries in flight and goes in acceptance order.
func testConcurrentQueue(h *harness) {
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"plain.*"} })
	h.endpoint("", func(e *store.Endpoint) { e.EventTypes = []string{"plain.*"} })
	fifo := h.endpoint("", func(e *store.Endpoint) { e.FIFO, e.EventTypes = true, []string{"fifo.*"} })
	const (
		producers     = 6
		eventsEach    = 50
		fifoEvents    = 30
		workers       = 4
		wantDelivered = producers*eventsEach*2 + fifoEvents
	)
	ctx, cancel := context.WithTimeout(h.ctx, 60*time.Second)
	defer cancel()

	var (
		mu        sync.Mutex
		created   = map[string]bool{}
		fifoOrder []string // acceptance order of the FIFO deliveries
		completed = map[string]int{}
		fifoDone  []string
		inFlight  atomic.Int32
		total     atomic.Int64
		wg        sync.WaitGroup
	)
	for p := range producers {
		wg.Go(func() {
			for i := range eventsEach {
				if p == 0 && i < fifoEvents {
					_, ds, err := h.s.CreateEvent(ctx, newEvent("", "fifo.x", t0), time.Time{})
					if err != nil || len(ds) != 1 {
						h.Errorf("CreateEvent(fifo): %d deliveries, %v", len(ds), err)
						return
					}
					mu.Lock()
					created[ds[0].ID] = true
					fifoOrder = append(fifoOrder, ds[0].ID)
					mu.Unlock()
				}
				_, ds, err := h.s.CreateEvent(ctx, newEvent("", "plain.x", t0), time.Time{})
				if err != nil || len(ds) != 2 {
					h.Errorf("CreateEvent: %d deliveries, %v", len(ds), err)
					return
				}
				mu.Lock()
				for _, d := range ds {
					created[d.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	for range workers {
		wg.Go(func() {
			for total.Load() < wantDelivered && ctx.Err() == nil {
				jobs, err := h.s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: t0.Add(time.Minute), Lease: time.Hour, Limit: 16})
				if err != nil {
					h.Errorf("ClaimDueDeliveries: %v", err)
					return
				}
				if len(jobs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				var rs []store.AttemptResult
				mu.Lock()
				for _, j := range jobs {
					if j.Endpoint.ID == fifo.ID {
						if n := inFlight.Add(1); n > 1 {
							h.Errorf("%d FIFO deliveries in flight", n)
						}
						fifoDone = append(fifoDone, j.Delivery.ID)
					}
					completed[j.Delivery.ID]++
					rs = append(rs, result(j, store.StatusSucceeded, 200, t0, time.Time{}))
				}
				mu.Unlock()
				for _, j := range jobs {
					if j.Endpoint.ID == fifo.ID {
						inFlight.Add(-1)
					}
				}
				lost, err := h.s.CompleteAttempts(ctx, rs)
				if err != nil || len(lost) != 0 {
					h.Errorf("CompleteAttempts: lost %v, %v", lost, err)
					return
				}
				total.Add(int64(len(jobs)))
			}
		})
	}
	wg.Wait()
	if h.Failed() {
		return
	}
	if ctx.Err() != nil {
		h.Fatalf("timed out with %d of %d deliveries completed", total.Load(), wantDelivered)
	}
	if len(created) != wantDelivered || total.Load() != wantDelivered {
		h.Fatalf("created %d deliveries, completed %d; want %d", len(created), total.Load(), wantDelivered)
	}
	for id, n := range completed {
		if n != 1 || !created[id] {
			h.Fatalf("delivery %s completed %d times (created: %v)", id, n, created[id])
		}
	}
	if !slices.Equal(fifoDone, fifoOrder) {
		h.Fatalf("FIFO deliveries went out of acceptance order:\n got %v\nwant %v", fifoDone, fifoOrder)
	}
	st, err := h.s.QueueStats(h.ctx, t0.Add(2*time.Hour))
	if err != nil || st.Pending != 0 || st.Due != 0 {
		h.Fatalf("QueueStats after the run = %+v, %v", st, err)
	}
	list, _, err := h.s.ListDeliveries(h.ctx, store.DeliveryFilter{Status: store.StatusSucceeded, Page: store.Page{Limit: 1000}})
	if err != nil || len(list) != wantDelivered {
		h.Fatalf("%d succeeded deliveries, %v; want %d", len(list), err, wantDelivered)
	}
	for _, d := range list {
		if d.Attempts != 1 {
			h.Fatalf("delivery %s has %d attempts", d.ID, d.Attempts)
		}
	}
}
