package jsoncanon

import (
	"bytes"
	"hash/maphash"
	"slices"
	"unicode/utf8"
)

// indexKey is an object member whose key is a JavaScript array index.
type indexKey struct {
	n uint32 // the index
	m int    // the member
}

var keySeed = maphash.MakeSeed()

// fixMembers applies the object rules to the members of one object, already
// written at e.out[body:]: a repeated key keeps its first position and its
// last value, and in JS mode array-index keys move to the front in ascending
// order. It rewrites the output only when one of those rules changes it.
func (e *encoder) fixMembers(body int, ms []member) {
	if len(ms) < 2 {
		return
	}
	order, dup := e.dedupe(ms)
	reorder := false
	if e.mode&modePython == 0 {
		e.index = e.index[:0]
		sorted := true // the index keys so far are ascending
		prefix := true // no ordinary key has been seen yet
		for _, m := range order {
			n, ok := arrayIndex(e.out[ms[m].seg:ms[m].keyEnd])
			if !ok {
				prefix = false
				continue
			}
			if !prefix || (len(e.index) > 0 && e.index[len(e.index)-1].n > n) {
				sorted = false
			}
			e.index = append(e.index, indexKey{n: n, m: m})
		}
		reorder = !sorted
	}
	if !dup && !reorder {
		return
	}
	if reorder {
		slices.SortFunc(e.index, func(a, b indexKey) int {
			if a.n < b.n {
				return -1
			}
			return 1 // index keys are unique after dedupe
		})
		final := e.final[:0]
		for _, ik := range e.index {
			final = append(final, ik.m)
		}
		for _, m := range order {
			if _, ok := arrayIndex(e.out[ms[m].seg:ms[m].keyEnd]); !ok {
				final = append(final, m)
			}
		}
		e.final = final
		order = final
	}
	e.tmp = append(e.tmp[:0], e.out[body:]...)
	e.out = e.out[:body]
	for i, m := range order {
		if i > 0 {
			e.out = append(e.out, e.comma...)
		}
		e.out = append(e.out, e.tmp[ms[m].seg-body:ms[m].end-body]...)
	}
}

// dedupe returns the members to keep, in order of their keys' first
// appearance, each one the key's last appearance, and whether any key
// appeared more than once.
func (e *encoder) dedupe(ms []member) (order []int, dup bool) {
	order = e.order[:0]
	key := func(m int) []byte { return e.out[ms[m].seg:ms[m].keyEnd] }
	if len(ms) <= 8 {
		for i := range ms {
			found := false
			for k, m := range order {
				if e.sameKey(ms[m], ms[i]) {
					order[k] = i
					found, dup = true, true
					break
				}
			}
			if !found {
				order = append(order, i)
			}
		}
		e.order = order
		return order, dup
	}
	size := 16
	for size < 2*len(ms) {
		size <<= 1
	}
	mask := uint64(size - 1)
	if cap(e.table) < size {
		e.table = make([]int32, size)
	}
	table := e.table[:size]
	clear(table)
	for i := range ms {
		h := maphash.Bytes(keySeed, key(i)) & mask
		for {
			slot := table[h]
			if slot == 0 {
				order = append(order, i)
				table[h] = int32(len(order))
				break
			}
			if k := int(slot - 1); e.sameKey(ms[order[k]], ms[i]) {
				order[k] = i
				dup = true
				break
			}
			h = (h + 1) & mask
		}
	}
	e.order = order
	return order, dup
}

// sameKey reports whether two members have the same key. Keys are compared
// as written, which tells keys apart in every mode but one: with
// ensure_ascii, the escapes \ud83d\ude00 are written both for the astral
// character U+1F600 and for the two lone surrogates U+D83D U+DE00 (from
// encoded surrogates or an escape next to one), which are different Python
// strings. Keys written with a surrogate escape are compared as decoded from
// the source.
func (e *encoder) sameKey(a, b member) bool {
	ka, kb := e.out[a.seg:a.keyEnd], e.out[b.seg:b.keyEnd]
	if !bytes.Equal(ka, kb) {
		return false
	}
	if e.mode&(modePython|modeKeepNonASCII) != modePython || bytes.Index(ka, []byte(`\ud`)) < 0 {
		return true
	}
	i, j := a.src+1, b.src+1
	for {
		ra, na := e.keyRune(i)
		rb, nb := e.keyRune(j)
		if ra != rb {
			return false
		}
		if ra < 0 {
			return true
		}
		i, j = i+na, j+nb
	}
}

// keyRune decodes the code point at src[i] in a key already read without
// error, and returns it and its length in bytes, or -1 at the closing quote.
func (e *encoder) keyRune(i int) (rune, int) {
	switch c := e.src[i]; {
	case c == '"':
		return -1, 1
	case c == '\\':
		r, n, _ := e.unescape(i, len(e.src))
		return r, n
	case c < utf8.RuneSelf:
		return rune(c), 1
	}
	return decodeSurrogatePass(e.src[i:])
}

// arrayIndex reports whether key, an encoded key with its quotes, is a
// JavaScript array index: the canonical decimal form of an integer from 0 to
// 2³²−2. Such keys have no escapes, so the encoded form is the key itself.
func arrayIndex(key []byte) (uint32, bool) {
	k := key[1 : len(key)-1]
	if len(k) == 0 || len(k) > 10 || (k[0] == '0' && len(k) > 1) {
		return 0, false
	}
	var n uint64
	for _, c := range k {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<32-2 {
		return 0, false
	}
	return uint32(n), true
}
