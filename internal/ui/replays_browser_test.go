package ui

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestBrowserReplays follows a replay job in the dashboard: the list shows
// it with its progress, the detail page shows how far through its window
// it is and its counts as its batches commit, and its cancel button stops
// it for good.
func TestBrowserReplays(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newBrowserSuite(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	key, _ := createAPIKey(t, s.st, now)
	rc := newReceiver(t, http.StatusOK, "ok")
	// Three events the endpoint, created afterwards, never got.
	for i := range 3 {
		if _, _, err := s.st.CreateEvent(ctx, &store.Event{Tenant: "acme", Type: "invoice.paid", Payload: []byte(`{}`),
			CreatedAt: now.Add(time.Duration(-50+10*i) * time.Minute)}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	ep := &store.Endpoint{ID: store.NewID("ep"), Tenant: "acme", URL: rc.URL, Scheme: "standard", CreatedAt: now, UpdatedAt: now,
		Secrets: []store.Secret{{Value: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}}}
	if err := s.st.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	j := &store.ReplayJob{ID: store.NewID("rpl"), Tenant: new("acme"), EndpointID: ep.ID, Kind: store.ReplayMissingKind,
		Since: now.Add(-time.Hour), Rate: 1, CreatedAt: now}
	if err := s.st.CreateReplayJob(ctx, j); err != nil {
		t.Fatal(err)
	}
	// One batch of one (rate 1/s), as a replayer runs it.
	if _, err := s.st.ClaimReplayJob(ctx, "n1", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.RunReplayBatch(ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}

	s.signIn(key)
	s.do("open the replays", chromedp.Navigate(s.base+"/ui/replays"), chromedp.WaitVisible(chromedp.ID("replays")))
	s.checkLabels("replay list")
	s.waitText("job listed", j.ID+`\s+missing\s+running`, 5*time.Second)
	s.shot("replays")
	s.do("open the job", chromedp.Navigate(s.base+"/ui/replays/"+j.ID), chromedp.WaitVisible(chromedp.ID("replay-progress")))
	s.checkLabels("replay page")
	pct, err := chromedp.Run(s.ctx, chromedp.AttributeValue(chromedp.ID("replay-progress"), "value"))
	if n, _ := strconv.Atoi(pct.Value); err != nil || n <= 0 || n >= 100 {
		t.Fatalf("progress value %q (%v), want between 0 and 100 after one batch of three", pct.Value, err)
	}
	if q, sc := s.text(chromedp.CSS("#replay-queued")), s.text(chromedp.CSS("#replay-scanned")); q != "1" || sc != "1" {
		t.Fatalf("counts on the page: %s queued of %s, want 1 of 1", q, sc)
	}
	s.shot("replay")
	s.submit("cancel the job", chromedp.CSS("#cancel-replay"))
	s.waitText("job canceled", `Replay canceled`, 5*time.Second)
	if st := s.text(chromedp.CSS("#replay-state")); st != "canceled" {
		t.Fatalf("state after cancel = %q", st)
	}
	if _, err := s.st.RunReplayBatch(ctx, store.ReplayBatchParams{JobID: j.ID, Node: "n1", Now: now, LeaseUntil: now.Add(time.Minute)}); err == nil {
		t.Fatal("a batch of the canceled job ran")
	}
	if got, _ := s.st.GetReplayJob(ctx, j.ID); got.State != store.ReplayCanceled || got.Queued != 1 {
		t.Fatalf("stored job = %+v", got)
	}
}
