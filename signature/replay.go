package signature

import (
	"container/heap"
	"sync"
	"time"
)

// A SeenStore remembers messages that have been accepted, so that a
// verbatim replay of a signed request is refused with [ErrReplayed] even
// inside the tolerance window. [Scheme.Verify] consults it only for schemes
// that sign a timestamp, and only once the signature has verified, so only
// authentic messages reach it.
//
// The id Verify passes is a replay key: the scheme, the message ID (or a
// hash of the body when the scheme carries none) and the signed timestamp. A
// sender's retry keeps the message ID but is signed afresh at a new
// timestamp, so it passes; an attacker's copy cannot change the timestamp
// without the secret, so it is refused. Deduplicating retries is the
// application's business, with [Scheme.MessageID] as the key.
type SeenStore interface {
	// SeenBefore reports whether id was recorded before and has not yet
	// expired; if not, it records id until the time until, after which
	// the tolerance check refuses the message anyway. It must be atomic:
	// of two concurrent calls with the same id, exactly one returns false.
	SeenBefore(id string, until time.Time) bool
}

// DefaultMaxSeen is the number of entries a [MemorySeen] with a zero Max
// holds.
const DefaultMaxSeen = 100_000

// MemorySeen is a [SeenStore] in memory, for a single process. Its zero
// value is ready to use and it is safe for concurrent use. It holds at most
// Max entries: when full it drops expired entries first and then the entries
// closest to expiry, which opens a replay window for those few; size Max
// above the number of messages you accept within one tolerance window.
type MemorySeen struct {
	// Max is the most entries kept. Zero means DefaultMaxSeen.
	Max int

	// Now returns the current time, for expiry. Nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	until map[string]time.Time
	queue seenQueue
}

// SeenBefore implements [SeenStore].
func (m *MemorySeen) SeenBefore(id string, until time.Time) bool {
	now := time.Now()
	if m.Now != nil {
		now = m.Now()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.until == nil {
		m.until = make(map[string]time.Time)
	}
	if u, ok := m.until[id]; ok && now.Before(u) {
		return true
	}
	for len(m.queue) > 0 && !now.Before(m.queue[0].until) {
		m.pop()
	}
	max := m.Max
	if max <= 0 {
		max = DefaultMaxSeen
	}
	for len(m.queue) >= max {
		m.pop()
	}
	m.until[id] = until
	heap.Push(&m.queue, seenEntry{id: id, until: until})
	return false
}

// Len returns the number of entries held, expired ones included until they
// are dropped.
func (m *MemorySeen) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.queue)
}

func (m *MemorySeen) pop() {
	e := heap.Pop(&m.queue).(seenEntry)
	if u, ok := m.until[e.id]; ok && u.Equal(e.until) {
		delete(m.until, e.id)
	}
}

type seenEntry struct {
	id    string
	until time.Time
}

// seenQueue is a min-heap of entries by expiry.
type seenQueue []seenEntry

func (q seenQueue) Len() int           { return len(q) }
func (q seenQueue) Less(i, j int) bool { return q[i].until.Before(q[j].until) }
func (q seenQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *seenQueue) Push(x any)        { *q = append(*q, x.(seenEntry)) }
func (q *seenQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}
