package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// replayerRun runs a Replayer until stop, which waits for Run to return.
func replayerRun(t *testing.T, cfg *ReplayerConfig, batches chan<- *store.ReplayJob) (r *Replayer, stop func()) {
	t.Helper()
	r, err := NewReplayer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.onBatch = func(j *store.ReplayJob) { batches <- j }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	return r, stop
}

func nextBatch(t *testing.T, batches <-chan *store.ReplayJob) *store.ReplayJob {
	t.Helper()
	select {
	case j := <-batches:
		return j
	case <-time.After(10 * time.Second):
		t.Fatal("no replay batch within 10s")
		return nil
	}
}

// TestReplayerRateResumeExactlyOnce fails deliveries, replays them with a
// job capped at 2 deliveries a second, and follows it batch by batch on
// the injected clock: a batch runs only once the clock has moved past the
// previous one's pacing. The replayer is stopped mid-job and another node
// takes the job over once the lease runs out, from the saved cursor; each
// replayed delivery arrives exactly once at a loopback receiver.
func TestReplayerRateResumeExactlyOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	// Near the wall clock: the engine prunes history by its clock.
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	arrived := make(chan string, 100)
	rc := newReceiver(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		arrived <- string(body)
	})
	now := time.Now()
	ep := &store.Endpoint{ID: store.NewID("ep"), URL: rc.URL, Scheme: "standard", CreatedAt: now, UpdatedAt: now,
		Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}}
	if err := st.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	const n = 5
	var failed, payloads []string
	for i := range n {
		payload := fmt.Sprintf(`{"n":%d}`, i)
		payloads = append(payloads, payload)
		_, ds, err := st.CreateEvent(ctx, &store.Event{Type: "invoice.paid", Payload: []byte(payload),
			CreatedAt: clock.now().Add(time.Duration(i) * time.Millisecond)}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		failed = append(failed, ds[0].ID)
	}
	// Another event of a type the job leaves out.
	_, other, err := st.CreateEvent(ctx, &store.Event{Type: "user.created", Payload: []byte(`{}`), CreatedAt: clock.now().Add(time.Second)}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	jobs, err := st.ClaimDueDeliveries(ctx, store.ClaimParams{Now: clock.now().Add(time.Second), Lease: time.Minute, Limit: 100})
	if err != nil || len(jobs) != n+1 {
		t.Fatalf("claimed %d, %v", len(jobs), err)
	}
	var rs []store.AttemptResult
	for _, j := range jobs {
		rs = append(rs, store.AttemptResult{DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: store.StatusFailed,
			Attempt: store.Attempt{ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: ep.ID, EventID: j.Event.ID,
				Number: 1, StartedAt: clock.now(), URL: ep.URL, StatusCode: 500, Trigger: "scheduled"}})
	}
	if lost, err := st.CompleteAttempts(ctx, rs); err != nil || len(lost) != 0 {
		t.Fatalf("CompleteAttempts: %v, lost %v", err, lost)
	}

	e, err := New(Config{Store: st, Now: clock.now, PollInterval: 20 * time.Millisecond, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	ectx, ecancel := context.WithCancel(ctx)
	edone := make(chan error, 1)
	go func() { edone <- e.Run(ectx) }()
	t.Cleanup(ecancel)

	clock.advance(time.Minute)
	job := &store.ReplayJob{ID: store.NewID("rpl"), EndpointID: ep.ID, Tenant: new(""), Kind: store.ReplayFailedKind,
		Since: clock.now().Add(-time.Hour), EventTypes: []string{"invoice.*"}, Rate: 2, CreatedAt: clock.now()}
	if err := st.CreateReplayJob(ctx, job); err != nil {
		t.Fatal(err)
	}
	batches := make(chan *store.ReplayJob, 100)
	cfg := &ReplayerConfig{Store: st, Now: clock.now, NodeID: "a", Notify: e.Notify, PollInterval: time.Hour}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	r, stop := replayerRun(t, cfg, batches)
	r.Wake()

	b := nextBatch(t, batches)
	if b.Queued != 2 || b.Scanned != 2 || !b.NotBefore.Equal(clock.now().Add(time.Second)) {
		for _, id := range failed {
			d, err := st.GetDelivery(ctx, id)
			t.Logf("%s %+v %v", id, d, err)
		}
		t.Fatalf("first batch = %+v; want 2 queued, the next a second later", b)
	}
	// Until the clock moves, the rate cap holds the next batch back:
	// waking the replayer finds no job ready.
	r.Wake()
	got := []string{<-arrived, <-arrived}
	select {
	case b := <-batches:
		t.Fatalf("a batch ran before its time: %+v", b)
	default:
	}
	clock.advance(time.Second)
	r.Wake()
	if b = nextBatch(t, batches); b.Queued != 4 {
		for _, id := range failed {
			d, _ := st.GetDelivery(ctx, id)
			t.Logf("%s %s %v", d.ID, d.Status, d.CreatedAt.UnixMilli())
		}
		t.Fatalf("second batch = %+v; want 4 queued in all", b)
	}
	got = append(got, <-arrived, <-arrived)
	stop() // node a stops mid-job, its lease on it not over

	// Node b takes the job over once a's lease is over, at the cursor.
	cfg2 := *cfg
	cfg2.NodeID = "b"
	r2, _ := replayerRun(t, &cfg2, batches)
	clock.advance(time.Second)
	r2.Wake()
	select {
	case b := <-batches:
		t.Fatalf("node b ran a batch while a's lease held: %+v", b)
	default:
	}
	clock.advance(30 * time.Second)
	r2.Wake()
	for b = nextBatch(t, batches); b.State != store.ReplaySucceeded; b = nextBatch(t, batches) {
		if b.Queued > n {
			t.Fatalf("batch queued more than there is: %+v", b)
		}
		clock.advance(time.Second)
		r2.Wake()
	}
	got = append(got, <-arrived)
	if b.Queued != n || b.Scanned != n+1 {
		t.Fatalf("finished job = %+v; want %d scanned, %d queued", b, n+1, n)
	}
	// A graceful stop records the attempts in flight.
	ecancel()
	if err := <-edone; err != nil {
		t.Fatalf("engine Run: %v", err)
	}
	for _, id := range failed {
		if d, err := st.GetDelivery(ctx, id); err != nil || d.Status != store.StatusSucceeded || d.Attempts != 2 {
			t.Fatalf("replayed delivery = %+v, %v; want succeeded at its second attempt", d, err)
		}
	}
	slices.Sort(got)
	want := slices.Clone(payloads)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("arrived %v, want each of %v once", got, want)
	}
	if d, _ := st.GetDelivery(ctx, other[0].ID); d.Status != store.StatusFailed {
		t.Fatalf("delivery of another type = %s, want failed", d.Status)
	}
	if rc.count() != n {
		t.Fatalf("receiver got %d requests, want %d", rc.count(), n)
	}
}

// brokenBatches is a store whose replay batches always fail.
type brokenBatches struct {
	ReplayJobStore
	failed chan string
}

func (b *brokenBatches) RunReplayBatch(context.Context, store.ReplayBatchParams) (*store.ReplayJob, error) {
	return nil, fmt.Errorf("disk on fire")
}

func (b *brokenBatches) FailReplayJob(ctx context.Context, id, reason string, now time.Time) error {
	err := b.ReplayJobStore.FailReplayJob(ctx, id, reason, now)
	b.failed <- id
	return err
}

// TestReplayerFailsJob: a job whose batches keep failing is failed, with
// the error, after MaxFailures tries.
func TestReplayerFailsJob(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newFakeClock(time.Now().UTC().Truncate(time.Second))
	j := &store.ReplayJob{ID: store.NewID("rpl"), Kind: store.ReplayFailedKind, Since: clock.now().Add(-time.Hour), CreatedAt: clock.now()}
	if err := st.CreateReplayJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	b := &brokenBatches{ReplayJobStore: st, failed: make(chan string, 1)}
	_, stop := replayerRun(t, &ReplayerConfig{Store: b, Now: clock.now, MaxFailures: 2, PollInterval: time.Hour}, make(chan *store.ReplayJob, 10))
	select {
	case id := <-b.failed:
		if id != j.ID {
			t.Fatalf("failed job %s, want %s", id, j.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the job was not failed within 10s")
	}
	stop()
	got, err := st.GetReplayJob(ctx, j.ID)
	if err != nil || got.State != store.ReplayFailedState || !strings.Contains(got.Error, "disk on fire") || got.FinishedAt == nil {
		t.Fatalf("job = %+v, %v; want failed with the batch's error", got, err)
	}
}

// TestStoreBackoff pins the pause after failed store calls. The replayer's
// batch retry once shifted without a bound: with MaxFailures above 40 the
// pause overflowed to zero or less and the failing batch was retried at
// once, in a busy loop.
func TestStoreBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{6, 3200 * time.Millisecond},
		{7, 5 * time.Second},
		{41, 5 * time.Second},
		{64, 5 * time.Second},
		{1000, 5 * time.Second},
	} {
		if got := storeBackoff(tc.failures); got != tc.want {
			t.Errorf("storeBackoff(%d) = %v, want %v", tc.failures, got, tc.want)
		}
	}
	// The formula runJob had.
	n := 64
	if old := min(100*time.Millisecond<<(n-1), 5*time.Second); old > 0 {
		t.Fatalf("old formula at 64 failures = %v, expected the overflow this test guards against", old)
	}
}
