package inbound

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ZoomToken returns the encryptedToken of Zoom's endpoint.url_validation
// handshake: the hex HMAC-SHA256 of plainToken keyed with the app's Secret
// Token.
func ZoomToken(secretToken, plainToken string) string {
	m := hmac.New(sha256.New, []byte(secretToken))
	m.Write([]byte(plainToken))
	return hex.EncodeToString(m.Sum(nil))
}

// text writes a short plain-text answer.
func text(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)+1))
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}

// writeJSON writes v as a JSON answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		text(w, http.StatusInternalServerError, "internal error")
		return
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

// answer writes the JSON answer to an accepted (or duplicate) request.
func answer(w http.ResponseWriter, status int, id string, duplicate bool) {
	v := struct {
		ID        string `json:"id"`
		Duplicate bool   `json:"duplicate,omitempty"`
	}{id, duplicate}
	writeJSON(w, status, v)
}

// maxRecent bounds the recently accepted keys remembered.
const maxRecent = 100_000

// recentKeys remembers recently accepted idempotency keys and their events,
// so that duplicates are answered without a store write. It holds two
// generations of at most maxRecent/2 entries each: when the current one is
// full it becomes the previous one and the oldest generation is dropped.
type recentKeys struct {
	mu        sync.Mutex
	cur, prev map[string]recentEntry
}

type recentEntry struct {
	eventID string
	until   time.Time
}

func (c *recentKeys) get(sourceID, key string, now time.Time) (string, bool) {
	k := sourceID + "\x00" + key
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cur[k]
	if !ok {
		e, ok = c.prev[k]
	}
	if !ok || !now.Before(e.until) {
		return "", false
	}
	return e.eventID, true
}

func (c *recentKeys) add(sourceID, key, eventID string, until time.Time) {
	k := sourceID + "\x00" + key
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || len(c.cur) >= maxRecent/2 {
		c.prev, c.cur = c.cur, make(map[string]recentEntry)
	}
	c.cur[k] = recentEntry{eventID: eventID, until: until}
}

// limiter is a token bucket.
type limiter struct {
	tokens float64
	last   time.Time
}

// allowRejection reports whether a rejected request of the source may be
// stored now: RejectionRate per second, bursts of ten times as many, on the
// gateway's clock (Config.Now), like the rest of what it decides.
func (g *Gateway) allowRejection(sourceID string) bool {
	now := g.now()
	burst := 10 * g.rejectRate
	g.mu.Lock()
	defer g.mu.Unlock()
	b, ok := g.buckets[sourceID]
	if !ok {
		if len(g.buckets) >= maxCachedSources {
			clear(g.buckets)
		}
		b = &limiter{tokens: burst, last: now}
		g.buckets[sourceID] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*g.rejectRate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Leader says whether this node runs the periodic jobs when several nodes
// share a store. *leader.Elector implements it.
type Leader interface {
	// Check reports whether this node leads now.
	Check(ctx context.Context) bool
}

// Run prunes the rejected requests older than Config.RejectionRetention at
// once and then every Config.PruneInterval, on the leader only
// (Config.Leader is asked before each run), until ctx is done; it then
// returns ctx's error. The store bounds the rejections of each source by
// bytes as they are added (store.RejectionBudget); Run bounds them by age,
// whether or not requests keep being rejected.
func (g *Gateway) Run(ctx context.Context) error {
	t := time.NewTicker(g.pruneEvery)
	defer t.Stop()
	for {
		if g.leader == nil || g.leader.Check(ctx) {
			if n, err := g.Prune(ctx); err != nil {
				if ctx.Err() == nil {
					g.log.WarnContext(ctx, "inbound: prune rejections", "err", err)
				}
			} else if n > 0 {
				g.log.InfoContext(ctx, "inbound: pruned rejections", "rejections", n)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Prune deletes the rejected requests older than Config.RejectionRetention
// and returns how many. Run calls it periodically.
func (g *Gateway) Prune(ctx context.Context) (int64, error) {
	return g.store.PruneRejections(ctx, g.now().Add(-g.retention))
}
