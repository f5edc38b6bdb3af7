// Package authlimit throttles failed authentication per client address, so
// that API keys cannot be guessed by trying many of them quickly.
//
// Each address has a token bucket of Config.Failures tokens that refills
// at Failures per Config.Window; every failed attempt takes a token, and an
// address whose bucket is empty is refused (429, with Retry-After) until a
// token has come back, whatever it sends, a right key included. Addresses
// are counted apart, so one client's failures never throttle another's
// sign-in. IPv6 addresses are counted per /64, the block one machine
// usually holds.
//
// The client address is the host of http.Request.RemoteAddr. A proxy in
// front of hookrelay makes every client share the proxy's address; the
// X-Forwarded-For header is not trusted, since any client can set it.
//
// Memory is bounded: at most Config.MaxClients addresses are tracked, and
// when the table is full, addresses whose buckets have refilled are
// forgotten first, then any.
package authlimit

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the Config fields.
const (
	DefaultFailures   = 10
	DefaultWindow     = time.Minute
	DefaultMaxClients = 10000
)

// Config configures a Limiter. The zero value of each field means its
// default.
type Config struct {
	// Failures is how many failed attempts an address may make in a burst
	// before it is refused. 0: DefaultFailures (10).
	Failures int
	// Window is how long an address takes to earn back Failures attempts.
	// 0: DefaultWindow (1 minute).
	Window time.Duration
	// MaxClients bounds the addresses tracked. 0: DefaultMaxClients.
	MaxClients int
	// Now is the clock. nil: time.Now.
	Now func() time.Time
}

// Limiter counts failed attempts per address. Create it with New; it is
// safe for concurrent use.
type Limiter struct {
	burst float64
	rate  float64 // tokens per second
	max   int
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// New returns a Limiter for cfg; nil cfg means every default.
func New(cfg *Config) *Limiter {
	if cfg == nil {
		cfg = &Config{}
	}
	l := &Limiter{
		burst:   float64(cfg.Failures),
		max:     cfg.MaxClients,
		now:     cfg.Now,
		buckets: make(map[string]*bucket),
	}
	if l.burst <= 0 {
		l.burst = DefaultFailures
	}
	window := cfg.Window
	if window <= 0 {
		window = DefaultWindow
	}
	l.rate = l.burst / window.Seconds()
	if l.max <= 0 {
		l.max = DefaultMaxClients
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

// refill brings b's tokens up to now; callers hold l.mu.
func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
}

// Allow reports whether addr (as Addr returns it) may try to authenticate
// now, and when it may not, how long until it may: a whole number of
// seconds, at least one, for a Retry-After header.
func (l *Limiter) Allow(addr string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[addr]
	if !found {
		return true, 0
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		return true, 0
	}
	secs := math.Ceil((1 - b.tokens) / l.rate)
	return false, time.Duration(max(1, secs)) * time.Second
}

// Fail records a failed attempt from addr.
func (l *Limiter) Fail(addr string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, found := l.buckets[addr]
	if !found {
		if len(l.buckets) >= l.max {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[addr] = b
	}
	l.refill(b, now)
	b.tokens = max(0, b.tokens-1)
}

// evict makes room in a full table: it forgets the addresses whose
// buckets are full again, and if there are none, an arbitrary tenth of
// the table. Callers hold l.mu.
func (l *Limiter) evict(now time.Time) {
	for a, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= l.burst {
			delete(l.buckets, a)
		}
	}
	for a := range l.buckets {
		if len(l.buckets) < l.max-l.max/10 {
			break
		}
		delete(l.buckets, a)
	}
}

// Addr returns the address r's failures are counted under: the IP of
// RemoteAddr, an IPv6 one cut to its /64, or RemoteAddr itself if it has
// no IP.
func Addr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
