package delivery

import (
	"fmt"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// bucket is a token bucket for an endpoint's rate limit: rate tokens a
// second, holding at most one, so that deliveries are spread evenly and any
// window of t seconds sees at most rate*t+1 of them. A zero bucket is
// unlimited.
type bucket struct {
	rate   float64 // tokens per second; 0 for no limit
	tokens float64
	last   time.Time
}

func (b *bucket) burst() float64 { return 1 }

// setRate applies the endpoint's current rate limit.
func (b *bucket) setRate(rate float64, now time.Time) {
	if rate < 0 {
		rate = 0
	}
	if rate == b.rate {
		return
	}
	if b.rate == 0 {
		b.tokens, b.last = 1, now
	}
	b.refill(now)
	b.rate = rate
	b.tokens = min(b.tokens, b.burst())
}

func (b *bucket) refill(now time.Time) {
	if b.rate <= 0 {
		return
	}
	if dt := now.Sub(b.last); dt > 0 {
		b.tokens = min(b.burst(), b.tokens+b.rate*dt.Seconds())
		b.last = now
	}
}

// ready reports whether a token is available.
func (b *bucket) ready(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= 1
}

// take takes a token if one is available.
func (b *bucket) take(now time.Time) bool {
	if !b.ready(now) {
		return false
	}
	if b.rate > 0 {
		b.tokens--
	}
	return true
}

// full reports whether the bucket would forget nothing if dropped.
func (b *bucket) full(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	b.refill(now)
	return b.tokens >= b.burst()
}

// when is when the next token is available.
func (b *bucket) when(now time.Time) time.Time {
	b.refill(now)
	if b.rate <= 0 || b.tokens >= 1 {
		return now
	}
	return now.Add(time.Duration((1 - b.tokens) / b.rate * float64(time.Second)))
}

// schemeCache resolves endpoints' signature schemes: built-in ones by name,
// custom ones parsed once per endpoint version (id and UpdatedAt).
type schemeCache struct {
	mu     sync.Mutex
	custom map[string]cachedScheme
}

type cachedScheme struct {
	updatedAt time.Time
	scheme    *signature.Scheme
	err       error
}

func (c *schemeCache) get(ep *store.Endpoint) (*signature.Scheme, error) {
	if ep.Scheme != schemes.Custom {
		s, err := schemes.Resolve(ep.Scheme, nil)
		if err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", ep.ID, err)
		}
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.custom[ep.ID]; ok && cs.updatedAt.Equal(ep.UpdatedAt) {
		return cs.scheme, cs.err
	}
	var cs cachedScheme
	cs.updatedAt = ep.UpdatedAt
	if cs.scheme, cs.err = schemes.Resolve(ep.Scheme, ep.CustomScheme); cs.err != nil {
		cs.err = fmt.Errorf("endpoint %s: %w", ep.ID, cs.err)
	}
	if c.custom == nil {
		c.custom = make(map[string]cachedScheme)
	}
	c.custom[ep.ID] = cs
	return cs.scheme, cs.err
}
