package delivery

import (
	"net/http"
	"testing"
	"time"
)

func TestPolicyNext(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	sched := []time.Duration{time.Second, time.Minute, time.Hour}
	p := Policy{Schedule: sched}
	tests := []struct {
		name       string
		attempt    int
		status     int
		retryAfter string
		wantRetry  bool
		wantDelay  time.Duration
	}{
		{"network error, attempt 1", 1, 0, "", true, time.Second},
		{"500, attempt 2", 2, 500, "", true, time.Minute},
		{"503, last scheduled delay", 3, 503, "", true, time.Hour},
		{"past the schedule", 4, 500, "", false, 0},
		{"attempt 0 is invalid", 0, 500, "", false, 0},
		{"408 retries", 1, 408, "", true, time.Second},
		{"409 retries", 1, 409, "", true, time.Second},
		{"429 retries", 1, 429, "", true, time.Second},
		{"599 retries", 1, 599, "", true, time.Second},
		{"200 is success, no retry", 1, 200, "", false, 0},
		{"204 is success", 1, 204, "", false, 0},
		{"301 is final", 1, 301, "", false, 0},
		{"400 is final", 1, 400, "", false, 0},
		{"401 is final", 1, 401, "", false, 0},
		{"404 is final", 1, 404, "", false, 0},
		{"410 is final", 1, 410, "", false, 0},
		{"413 is final", 1, 413, "", false, 0},
		{"Retry-After seconds lengthens", 1, 429, "120", true, 2 * time.Minute},
		{"Retry-After with spaces", 1, 429, " 30 ", true, 30 * time.Second},
		{"Retry-After shorter than schedule is ignored", 2, 503, "5", true, time.Minute},
		{"Retry-After HTTP date", 1, 503, now.Add(10 * time.Minute).Format(http.TimeFormat), true, 10 * time.Minute},
		{"Retry-After date in the past", 1, 503, now.Add(-time.Hour).Format(http.TimeFormat), true, time.Second},
		{"Retry-After capped at 24h", 1, 429, "999999999", true, MaxRetryAfter},
		{"Retry-After date capped at 24h", 1, 429, now.Add(72 * time.Hour).Format(http.TimeFormat), true, MaxRetryAfter},
		{"Retry-After garbage", 1, 429, "soon", true, time.Second},
		{"Retry-After negative", 1, 429, "-5", true, time.Second},
		{"Retry-After fraction", 1, 429, "1.5", true, time.Second},
		{"Retry-After on a final status is moot", 1, 400, "10", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			next, retry := p.Next(tt.attempt, tt.status, tt.retryAfter, now)
			if retry != tt.wantRetry {
				t.Fatalf("retry = %v, want %v", retry, tt.wantRetry)
			}
			if retry && next.Sub(now) != tt.wantDelay {
				t.Fatalf("delay = %v, want %v", next.Sub(now), tt.wantDelay)
			}
		})
	}
}

func TestPolicyDefaultSchedule(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	want := []time.Duration{5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour}
	var p Policy
	for i, w := range want {
		next, retry := p.Next(i+1, 500, "", now)
		if !retry || next.Sub(now) != w {
			t.Fatalf("attempt %d: %v %v, want retry after %v", i+1, next.Sub(now), retry, w)
		}
	}
	if _, retry := p.Next(8, 500, "", now); retry {
		t.Fatal("attempt 8 retried; the default schedule allows 8 attempts")
	}
}

func TestPolicyJitter(t *testing.T) {
	t.Parallel()
	now := time.Unix(0, 0)
	p := Policy{Schedule: []time.Duration{10 * time.Second}, Jitter: 0.2}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	for range 2000 {
		next, retry := p.Next(1, 503, "", now)
		if !retry {
			t.Fatal("no retry")
		}
		d := next.Sub(now)
		if d < 8*time.Second || d > 12*time.Second {
			t.Fatalf("delay %v outside 10s ±20%%", d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	// The spread is used: 2000 uniform draws come within 0.2s of both ends.
	if lo > 8200*time.Millisecond || hi < 11800*time.Millisecond {
		t.Fatalf("jitter range [%v, %v] too narrow", lo, hi)
	}
	// Retry-After still wins over a jittered delay, and jitter never makes
	// the delay shorter than Retry-After.
	for range 100 {
		next, _ := p.Next(1, 429, "30", now)
		if next.Sub(now) != 30*time.Second {
			t.Fatalf("delay %v with Retry-After 30", next.Sub(now))
		}
	}
}
