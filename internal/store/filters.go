package store

import (
	"bytes"
	"sync"

	"github.com/hookrelay/hookrelay/internal/filter"
)

// maxCachedFilters bounds a FilterCache; beyond it the cache starts over.
const maxCachedFilters = 10000

// FilterCache keeps endpoints' compiled payload filters, by endpoint id
// and the endpoint's updated_at, so that fan-out parses each filter once
// rather than once per event. The zero value is ready; it is safe for
// concurrent use.
type FilterCache struct {
	mu sync.Mutex
	m  map[string]cachedFilter
}

type cachedFilter struct {
	updatedAt int64 // Unix milliseconds
	text      []byte
	f         *filter.Filter // nil if the text does not parse
}

// compiled returns the compiled filter of endpoint id at updatedAt, whose
// text is text; nil if the text does not parse. The text is compared too,
// so that two changes within a millisecond cannot leave a stale entry.
func (c *FilterCache) compiled(id string, updatedAt int64, text []byte) *filter.Filter {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if ok && e.updatedAt == updatedAt && bytes.Equal(e.text, text) {
		return e.f
	}
	f, err := filter.Parse(text)
	if err != nil {
		// Rules refuse such a filter; one in the database anyway (written
		// by hand) matches nothing rather than everything.
		f = nil
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedFilters {
		c.m = make(map[string]cachedFilter)
	}
	c.m[id] = cachedFilter{updatedAt: updatedAt, text: bytes.Clone(text), f: f}
	c.mu.Unlock()
	return f
}

// ForEvent returns what decides, for an event's payload, which endpoints'
// filters it matches. It decodes the payload at most once, and only if an
// endpoint has a filter.
func (c *FilterCache) ForEvent(payload []byte) *PayloadMatcher {
	return &PayloadMatcher{cache: c, payload: payload}
}

// PayloadMatcher evaluates the payload filters of one event's endpoints
// (see FilterCache.ForEvent). It is not safe for concurrent use.
type PayloadMatcher struct {
	cache   *FilterCache
	payload []byte
	decoded bool
	value   filter.Value
	bad     bool // the payload is not JSON
}

// Matches reports whether the event's payload matches the filter text of
// endpoint id as of updatedAt (Unix milliseconds): true when text is
// empty; false when the payload is not JSON or the text not a filter.
func (m *PayloadMatcher) Matches(id string, updatedAt int64, text []byte) bool {
	if len(text) == 0 {
		return true
	}
	f := m.cache.compiled(id, updatedAt, text)
	if f == nil {
		return false
	}
	if !m.decoded {
		m.decoded = true
		v, err := filter.Decode(m.payload)
		m.value, m.bad = v, err != nil
	}
	return !m.bad && f.MatchValue(m.value)
}

// FilterColumn is the value of the filter column for a filter's text: NULL
// (nil) for none, else the text as a string, for both stores.
func FilterColumn(text []byte) any {
	if len(text) == 0 {
		return nil
	}
	return string(text)
}

// RecordFilter is FilterColumn for an EndpointRecord's Filter.
func RecordFilter(text *string) any {
	if text == nil || *text == "" {
		return nil
	}
	return *text
}
