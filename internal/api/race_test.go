package api

import (
	"context"
	"sync"
	"testing"
)

// TestConcurrentRotations sends eight rotate-secret requests at once:
// each answers 200 and each new secret is kept, the endpoint ending with
// nine. When every request wrote back the secrets it had read, most
// rotations were lost (the issue saw 3 secrets instead of 9).
func TestConcurrentRotations(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	ep := tb.createEndpoint(t, map[string]any{})
	const n = 8
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		status [n]int
	)
	for i := range n {
		wg.Go(func() {
			<-start
			status[i] = tb.do(t, "POST", "/api/v1/endpoints/"+ep.ID+"/rotate-secret", `{"overlap_seconds":3600}`).status
		})
	}
	close(start)
	wg.Wait()
	for i, s := range status {
		if s != 200 {
			t.Errorf("rotation %d answered %d", i, s)
		}
	}
	stored, err := tb.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Secrets) != n+1 {
		t.Fatalf("%d secrets after %d concurrent rotations, want %d", len(stored.Secrets), n, n+1)
	}
	seen := map[string]bool{}
	for _, s := range stored.Secrets {
		seen[s.Value] = true
	}
	if len(seen) != n+1 || !seen[ep.Secret] {
		t.Fatalf("secrets not all distinct, or the first one lost: %d distinct", len(seen))
	}
}
