package delivery

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultRetrySchedule returns the delays between attempts used when none is
// configured: 5s, 5m, 30m, 2h, 5h, 10h, 10h after attempts 1 to 7, so 8
// attempts over about 27.6 hours (the schedule Svix uses).
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{
		5 * time.Second,
		5 * time.Minute,
		30 * time.Minute,
		2 * time.Hour,
		5 * time.Hour,
		10 * time.Hour,
		10 * time.Hour,
	}
}

// DefaultJitter is the jitter the engine applies to every delay: ±20%.
const DefaultJitter = 0.2

// MaxRetryAfter caps how long a Retry-After header can postpone a retry.
const MaxRetryAfter = 24 * time.Hour

// Policy decides whether and when a failed attempt is retried.
type Policy struct {
	// Schedule[i] is the delay after attempt i+1; after the last one the
	// delivery fails. nil means DefaultRetrySchedule.
	Schedule []time.Duration
	// Jitter spreads each delay uniformly over ±Jitter of it (0.2 is ±20%);
	// 0 means none. Values outside [0, 1) are clamped.
	Jitter float64
}

// Retryable reports whether an attempt that ended with statusCode (0 when no
// response arrived: network error or timeout) is worth retrying: network
// errors, 408, 409, 429 and 5xx are; 2xx is success and every other status
// is final.
func Retryable(statusCode int) bool {
	switch {
	case statusCode == 0:
		return true
	case statusCode == http.StatusRequestTimeout, statusCode == http.StatusConflict, statusCode == http.StatusTooManyRequests:
		return true
	case statusCode >= 500 && statusCode <= 599:
		return true
	}
	return false
}

// Success reports whether statusCode means delivered: any 2xx.
func Success(statusCode int) bool { return statusCode >= 200 && statusCode <= 299 }

// Next decides after attempt number attempt (1 for the first) that got
// statusCode (0 for no response) and the response's Retry-After header
// value (may be empty) at now, whether to retry and when. A 2xx and the
// non-retryable statuses (see Retryable) never retry, nor does an attempt
// past the end of the schedule. The delay is the schedule's, with jitter;
// a Retry-After in seconds or as an HTTP date lengthens it (never shortens
// it), up to MaxRetryAfter; an unparsable one is ignored.
func (p Policy) Next(attempt int, statusCode int, retryAfter string, now time.Time) (next time.Time, retry bool) {
	if !Retryable(statusCode) {
		return time.Time{}, false
	}
	sched := p.Schedule
	if sched == nil {
		sched = DefaultRetrySchedule()
	}
	if attempt < 1 || attempt > len(sched) {
		return time.Time{}, false
	}
	delay := sched[attempt-1]
	if j := min(max(p.Jitter, 0), 0.999); j > 0 && delay > 0 {
		delay = time.Duration(float64(delay) * (1 + j*(2*rand.Float64()-1)))
	}
	if ra, ok := parseRetryAfter(retryAfter, now); ok {
		delay = max(delay, min(ra, MaxRetryAfter))
	}
	return now.Add(delay), true
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}
