package postgres

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"sync"
	"time"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// idGen makes ids in store.NewID's format (prefix, underscore, 26
// characters of millisecond time then randomness) that increase strictly
// within one Store: within a millisecond, or when the clock goes back, the
// random part is incremented instead. observe moves it past an id read from
// the database, which is how a node whose clock lags another's still gives a
// FIFO endpoint's new delivery an id above the pending ones.
type idGen struct {
	mu sync.Mutex
	ms int64
	b  [16]byte
}

func (g *idGen) next(prefix string) string {
	g.mu.Lock()
	now := time.Now().UnixMilli()
	if now > g.ms {
		g.ms = now
		binary.BigEndian.PutUint64(g.b[:8], uint64(now)<<16)
		rand.Read(g.b[6:])
		g.b[6] &= 0x7f // headroom, so that increments never reach the time
	} else {
		for i := len(g.b) - 1; i >= 0; i-- {
			g.b[i]++
			if g.b[i] != 0 {
				break
			}
		}
	}
	b := g.b
	g.mu.Unlock()
	var buf [32 + 27]byte
	out := append(buf[:0], prefix...)
	out = append(out, '_')
	out = idEncoding.AppendEncode(out, b[:])
	return string(out)
}

// observe makes the generator continue after id; ids it cannot decode are
// ignored.
func (g *idGen) observe(id string) {
	i := strings.LastIndexByte(id, '_')
	b, err := idEncoding.DecodeString(id[i+1:])
	if err != nil || len(b) != 16 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if string(b) <= string(g.b[:]) {
		return
	}
	copy(g.b[:], b)
	g.ms = int64(binary.BigEndian.Uint64(b[:8]) >> 16)
}
