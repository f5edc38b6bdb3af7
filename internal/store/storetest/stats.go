package storetest

import (
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// statsTests are the tests of store.Stats; Run runs them with the others.
var statsTests = []struct {
	name string
	fn   func(h *harness)
}{
	{"EndpointAttemptStats", testEndpointAttemptStats},
}

func testEndpointAttemptStats(h *harness) {
	e := h.endpoint("stats", nil)
	other := h.endpoint("stats-other", nil)
	for range 100 {
		h.event1("stats", "a.b", t0)
	}
	h.event1("stats-other", "a.b", t0)
	jobs := h.claim(t0, 200)
	if len(jobs) != 101 {
		h.Fatalf("claimed %d, want 101", len(jobs))
	}
	i := 0
	var results []store.AttemptResult
	for _, j := range jobs {
		if j.Endpoint.ID == other.ID {
			r := result(j, store.StatusSucceeded, 200, t0, time.Time{})
			r.Attempt.Duration = time.Hour // not this endpoint's
			results = append(results, r)
			continue
		}
		i++
		// Durations 1..100 ms in a shuffled order; 80 2xx, 15 5xx, 5
		// without a response.
		d := time.Duration((i*37)%100+1) * time.Millisecond
		code, status := 200, store.StatusSucceeded
		switch {
		case i > 95:
			code, status = 0, store.StatusFailed
		case i > 80:
			code, status = 500, store.StatusFailed
		}
		started := t0.Add(time.Duration(i) * time.Second)
		if i == 1 {
			started = t0.Add(-2 * time.Hour) // before the window
		}
		r := result(j, status, code, started, time.Time{})
		r.Attempt.Duration = d
		if code == 0 {
			r.Attempt.Error = "timeout"
		}
		results = append(results, r)
	}
	h.complete(results...)

	st, err := h.s.EndpointAttemptStats(h.ctx, e.ID, t0.Add(-time.Hour), t0.Add(time.Hour))
	if err != nil {
		h.Fatalf("EndpointAttemptStats: %v", err)
	}
	// i == 1 (38 ms) is outside: 99 attempts, 79 succeeded, 15 failed, 5
	// errors; durations 1..100 ms without 38.
	want := store.AttemptStats{Attempts: 99, Succeeded: 79, Failed: 15, Errors: 5,
		// Nearest rank: the 50th, 95th (ceil 94.05) and 99th (ceil 98.01)
		// shortest of 1..37, 39..100.
		P50: 51 * time.Millisecond, P95: 96 * time.Millisecond, P99: 100 * time.Millisecond}
	if st != want {
		h.Fatalf("EndpointAttemptStats = %+v\nwant %+v", st, want)
	}
	if r := st.SuccessRate(); r != 79.0/99 {
		h.Fatalf("SuccessRate = %v", r)
	}
	if st, err := h.s.EndpointAttemptStats(h.ctx, "ep_nope", t0.Add(-time.Hour), t0.Add(time.Hour)); err != nil || st != (store.AttemptStats{}) {
		h.Fatalf("EndpointAttemptStats(unknown) = %+v, %v", st, err)
	}
}
