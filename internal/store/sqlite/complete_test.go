package sqlite_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestCompleteAttemptsChunks completes more results than one multi-row
// statement takes (150 > 64), one of them with a stale claim and one
// failed: the stale one alone is lost, every other delivery gets its
// status and exactly one attempt.
func TestCompleteAttemptsChunks(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hr.db"), newCipher(t))
	defer s.Close()
	benchEndpoint(t, s, false)
	const n = 150
	for range n {
		ev := &store.Event{ID: store.NewID("evt"), Type: "invoice.paid", Payload: []byte(`{"a":1}`), CreatedAt: time.Now()}
		if _, ds, err := s.CreateEvent(ctx, ev, time.Time{}); err != nil || len(ds) != 1 {
			t.Fatalf("CreateEvent: %d deliveries, %v", len(ds), err)
		}
	}
	now := time.Now().Add(time.Second)
	jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: now, Lease: time.Minute, Limit: n})
	if err != nil || len(jobs) != n {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	rs := complete(jobs, now)
	const stale, failed = 70, 100
	rs[stale].Claim--
	rs[failed].Status, rs[failed].Attempt.StatusCode = store.StatusFailed, 500
	lost, err := s.CompleteAttempts(ctx, rs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lost, []int{stale}) {
		t.Fatalf("lost %v, want [%d]", lost, stale)
	}
	for i, j := range jobs {
		d, err := s.GetDelivery(ctx, j.Delivery.ID)
		if err != nil {
			t.Fatal(err)
		}
		as, err := s.ListAttempts(ctx, j.Delivery.ID)
		if err != nil {
			t.Fatal(err)
		}
		want, wantAttempts := store.StatusSucceeded, 1
		switch i {
		case stale:
			want, wantAttempts = store.StatusPending, 0
		case failed:
			want = store.StatusFailed
		}
		if d.Status != want || d.Attempts != wantAttempts || len(as) != wantAttempts {
			t.Fatalf("delivery %d: %s with %d attempts (%d rows), want %s with %d", i, d.Status, d.Attempts, len(as), want, wantAttempts)
		}
		if wantAttempts == 1 && (as[0].ID != rs[i].Attempt.ID || as[0].Number != 1 || as[0].StatusCode != rs[i].Attempt.StatusCode) {
			t.Fatalf("delivery %d: attempt %+v, want id %s, number 1, status %d", i, as[0], rs[i].Attempt.ID, rs[i].Attempt.StatusCode)
		}
	}
}

// TestCreateEventsFIFOBatch: the events of one CreateEvents for a FIFO
// endpoint are written together, yet only the first delivery is the head:
// one claim finds it alone.
func TestCreateEventsFIFOBatch(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hr.db"), newCipher(t))
	defer s.Close()
	benchEndpoint(t, s, true)
	evs := make([]*store.Event, 100)
	for i := range evs {
		evs[i] = &store.Event{Type: "invoice.paid", Payload: []byte(`{"a":1}`), CreatedAt: time.Now()}
	}
	res, err := s.CreateEvents(ctx, evs, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || len(r.Deliveries) != 1 {
			t.Fatalf("event %d: %d deliveries, %v", i, len(r.Deliveries), r.Err)
		}
	}
	jobs, err := s.ClaimDueDeliveries(ctx, store.ClaimParams{Now: time.Now().Add(time.Second), Lease: time.Minute, Limit: 100})
	if err != nil || len(jobs) != 1 || jobs[0].Delivery.ID != res[0].Deliveries[0].ID {
		t.Fatalf("claimed %d (want the first event's delivery alone), %v", len(jobs), err)
	}
}
