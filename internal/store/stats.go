package store

import (
	"context"
	"math"
	"time"
)

// AttemptStats sums up an endpoint's attempts that started in a window:
// how they ended and how long they took.
type AttemptStats struct {
	// Attempts is how many started in the window.
	Attempts int
	// Succeeded got a 2xx; Failed got another status; Errors got no
	// response (a network error or a timeout).
	Succeeded, Failed, Errors int
	// P50, P95 and P99 are the nearest-rank percentiles of the attempts'
	// durations: the duration that p of them took at most (the
	// ceil(p*Attempts)-th shortest); 0 when there is none.
	P50, P95, P99 time.Duration
}

// SuccessRate is Succeeded over Attempts, 0 when there is none.
func (s AttemptStats) SuccessRate() float64 {
	if s.Attempts == 0 {
		return 0
	}
	return float64(s.Succeeded) / float64(s.Attempts)
}

// StatsWindows are the windows endpoint statistics are given for, up to
// now, in the API and on the dashboard alike.
var StatsWindows = []struct {
	Name   string
	Length time.Duration
}{{"hour", time.Hour}, {"day", 24 * time.Hour}}

// Percentiles are the percentiles AttemptStats gives, in order.
var Percentiles = []float64{0.50, 0.95, 0.99}

// PercentileOffset is the 0-based position, among n durations in
// ascending order, of the nearest-rank percentile p: ceil(p*n)-1.
func PercentileOffset(n int, p float64) int {
	return max(int(math.Ceil(p*float64(n)))-1, 0)
}

// Stats is the part of a Store that sums up endpoints' recent traffic.
type Stats interface {
	// EndpointAttemptStats sums up the attempts to the endpoint that
	// started in [since, until), in the database (the counts in one
	// query, each percentile in one indexed one). An endpoint without
	// attempts, or none at all, gets the zero AttemptStats.
	EndpointAttemptStats(ctx context.Context, endpointID string, since, until time.Time) (AttemptStats, error)
}
