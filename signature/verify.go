package signature

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookrelay/hookrelay/jsoncanon"
)

// VerifyOptions adjust [Scheme.Verify]. The zero value, and a nil
// *VerifyOptions, mean the defaults documented on each field.
type VerifyOptions struct {
	// Now returns the time to check signed timestamps against. Nil means
	// time.Now. Set it to check a recorded request at the time it was made.
	Now func() time.Time

	// Tolerance is how far a signed timestamp may be from Now, in either
	// direction. Zero or less means the scheme's own (see
	// [Scheme.Tolerance]). Schemes without a timestamp ignore it.
	Tolerance time.Duration

	// Seen, if set, refuses a message whose signature verifies but which it
	// has seen before, with [ErrReplayed]. It is consulted only for schemes
	// that sign a timestamp, and only after the signature has verified.
	Seen SeenStore
}

// maxSignatures bounds how many signatures one request may carry.
const maxSignatures = 16

type alg uint8

const (
	algHMAC alg = iota + 1
	algEd25519
)

// scratch holds the per-verification buffers so that verifying allocates
// nothing on success. It is pooled.
type scratch struct {
	tok  []byte // a copy of the token being decoded
	lit  []byte // the message ID being hashed
	ts   [24]byte
	sum  [sha256.Size]byte
	sigs [maxSignatures][ed25519.SignatureSize + 4]byte // room for base64 padding
	lens [maxSignatures]uint8
	algs [maxSignatures]alg
	n    int // candidates in sigs

	bad       int    // signatures that did not parse
	badDetail string // why the first bad one did not
	unknown   int    // signatures of versions the scheme ignores

	keys []*key // the prepared secrets, in order
}

// release clears sc and returns it to the pool.
func (sc *scratch) release() {
	clear(sc.keys)
	sc.keys = sc.keys[:0]
	scratchPool.Put(sc)
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// request is what Verify reads from the headers.
type request struct {
	set    *headerSet
	id     string
	ts     int64
	hasTS  bool
	tsText []byte
	values []string // signature header values
}

// Verify checks that body, with the headers h, carries a valid signature
// made with one of secrets, which are tried in order (put the newest first
// during a rotation; every signature in the header is tried against every
// secret). opts may be nil for the defaults.
//
// The body must be the raw request body, exactly as received. For schemes
// that sign a JSON serialization of the payload (plextrac, teak, and custom
// schemes with Signed js or python), Verify first checks the raw body and,
// only if no signature matched, re-serializes the parsed body the way the
// sender's language does and checks those bytes; nothing else is accepted.
//
// MACs are compared in constant time with [hmac.Equal]. For Standard
// Webhooks, whsec_ secrets verify v1 signatures and whpk_ public keys (or
// whsk_ secret keys) verify v1a Ed25519 signatures; signatures of other
// versions are ignored.
//
// The error is nil if a signature matched, and otherwise an [*Error] that
// wraps [ErrSecret] if secrets is empty or holds a secret the scheme cannot
// use; [ErrNoSignature] if a header is missing or holds no signature of a
// version the scheme knows; [ErrMalformed] if the timestamp cannot be parsed
// or no signature in the header can; [ErrExpired] if the timestamp is outside
// the tolerance; [ErrMismatch] if no signature matched; [ErrReplayed] if
// opts.Seen has seen the message. Secrets are checked first and the replay
// store last, once the signature is known to be valid.
func (s *Scheme) Verify(h http.Header, body []byte, secrets []string, opts *VerifyOptions) error {
	if len(secrets) == 0 {
		return &Error{Scheme: s.name, Err: ErrSecret, Detail: "no secrets given"}
	}
	sc := scratchPool.Get().(*scratch)
	defer sc.release()
	for i, sec := range secrets {
		k := prepareKey(s.key, sec)
		if k.err == nil && k.isEd25519() && s.format != formatStandard {
			k = &key{err: errEdNotHere}
		}
		if k.err != nil {
			return secretError(s.name, i, len(secrets), k.err)
		}
		sc.keys = append(sc.keys, k)
	}

	var req request
	if err := s.readHeaders(h, sc, &req); err != nil {
		return err
	}
	if err := s.parseSignatures(sc, &req); err != nil {
		return err
	}
	if sc.n == 0 {
		e := &Error{Scheme: s.name, Header: req.set.sig}
		if sc.bad > 0 {
			e.Err, e.Detail = ErrMalformed, sc.badDetail
		} else {
			e.Err, e.Detail = ErrNoSignature, "no signature of a version this scheme verifies"
		}
		return e
	}
	tol := s.tol
	if opts != nil && opts.Tolerance > 0 {
		tol = opts.Tolerance
	}
	if req.hasTS {
		now, t := nowFrom(opts), time.Unix(req.ts, 0)
		if now.Sub(t) > tol || t.After(now.Add(tol)) {
			header := req.set.ts
			if header == "" {
				header = req.set.sig // Stripe's t= element
			}
			return &Error{Scheme: s.name, Header: header, Err: ErrExpired, Timestamp: t,
				Detail: fmt.Sprintf("signed at %s, %s; tolerance %s", t.UTC().Format(time.RFC3339), describeAge(now.Sub(t).Round(time.Second)), tol)}
		}
	}
	matched := s.match(sc, &req, body)
	if !matched && s.serial != serialRaw && sc.hasAlg(algHMAC) {
		canon, err := serializeBody(s.serial, body)
		if err != nil {
			return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMismatch,
				Detail: fmt.Sprintf("the raw body did not match, and it is not JSON, so it has no %s form to check", s.serial.language())}
		}
		if string(canon) != string(body) {
			matched = s.match(sc, &req, canon)
		}
	}
	if !matched {
		d := fmt.Sprintf("%d signature(s) checked against %d secret(s)", sc.n, len(secrets))
		if sc.bad > 0 {
			d += fmt.Sprintf("; %d more malformed: %s", sc.bad, sc.badDetail)
		}
		return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMismatch, Detail: d}
	}
	if opts != nil && opts.Seen != nil && req.hasTS {
		id := s.MessageID(h, body)
		if id == "" {
			sum := sha256.Sum256(body)
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
		replayKey := s.name + "\x00" + id + "\x00" + strconv.FormatInt(req.ts, 10)
		if opts.Seen.SeenBefore(replayKey, time.Unix(req.ts, 0).Add(tol)) {
			return &Error{Scheme: s.name, Err: ErrReplayed, Timestamp: time.Unix(req.ts, 0),
				Detail: "this message ID was already accepted at this timestamp"}
		}
	}
	return nil
}

func nowFrom(opts *VerifyOptions) time.Time {
	if opts != nil && opts.Now != nil {
		return opts.Now()
	}
	return time.Now()
}

// readHeaders picks the header set the request uses and reads the ID and
// the timestamp.
func (s *Scheme) readHeaders(h http.Header, sc *scratch, req *request) error {
	for i := range s.sets {
		if vs := h[s.sets[i].sig]; len(vs) > 0 {
			req.set, req.values = &s.sets[i], vs
			break
		}
	}
	if req.set == nil {
		return &Error{Scheme: s.name, Header: s.sets[0].sig, Err: ErrNoSignature}
	}
	if req.set.id != "" {
		req.id = h.Get(req.set.id)
		if req.id == "" {
			return &Error{Scheme: s.name, Header: req.set.id, Err: ErrNoSignature, Detail: "message ID header missing"}
		}
	}
	if req.set.ts != "" {
		v := h.Get(req.set.ts)
		if v == "" {
			return &Error{Scheme: s.name, Header: req.set.ts, Err: ErrNoSignature, Detail: "timestamp header missing"}
		}
		if err := s.setTimestamp(sc, req, v, req.set.ts); err != nil {
			return err
		}
	}
	return nil
}

// setTimestamp parses a Unix time in seconds: decimal digits only.
func (s *Scheme) setTimestamp(sc *scratch, req *request, v, header string) error {
	ts, ok := parseUnix(v)
	if !ok {
		return &Error{Scheme: s.name, Header: header, Err: ErrMalformed, Detail: "timestamp is not a decimal Unix time in seconds"}
	}
	// The sender signed the header's text, so that is what the MAC is
	// computed over: "01700000000" is signed as it is written, not as
	// 1700000000 would be.
	req.ts, req.hasTS = ts, true
	req.tsText = append(sc.ts[:0], v...)
	return nil
}

func parseUnix(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseSignatures decodes the candidate signatures of the request into sc.
func (s *Scheme) parseSignatures(sc *scratch, req *request) error {
	sc.n, sc.bad, sc.unknown, sc.badDetail = 0, 0, 0, ""
	tokens := 0
	for _, v := range req.values {
		for rest := v; rest != ""; {
			var tok string
			tok, rest = s.nextToken(rest)
			if tok == "" {
				continue
			}
			if tokens++; tokens > 4*maxSignatures {
				return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMalformed, Detail: "too many signatures"}
			}
			if err := s.addToken(sc, req, tok); err != nil {
				return err
			}
		}
	}
	if s.format == formatStripe && !req.hasTS {
		return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMalformed, Detail: "no t= timestamp"}
	}
	return nil
}

// nextToken splits off the next signature token of a header value:
// Standard Webhooks separates signatures with spaces, Stripe its elements
// with commas, and other schemes may list several signatures separated by
// spaces, tabs or commas (only spaces and tabs if the prefix holds a comma,
// and none if it holds a space).
func (s *Scheme) nextToken(v string) (tok, rest string) {
	var i int
	switch {
	case s.format == formatStandard:
		i = strings.IndexByte(v, ' ')
	case s.format == formatStripe:
		i = strings.IndexByte(v, ',')
	case strings.ContainsAny(s.prefix, " \t"):
		i = -1
	case strings.IndexByte(s.prefix, ',') >= 0:
		i = strings.IndexAny(v, " \t")
	default:
		i = strings.IndexAny(v, " \t,")
	}
	if i < 0 {
		return v, ""
	}
	return v[:i], v[i+1:]
}

func (sc *scratch) malformed(detail string) {
	if sc.bad == 0 {
		sc.badDetail = detail
	}
	sc.bad++
}

func (sc *scratch) hasAlg(a alg) bool {
	for i := 0; i < sc.n; i++ {
		if sc.algs[i] == a {
			return true
		}
	}
	return false
}

// addToken decodes one token into the candidates.
func (s *Scheme) addToken(sc *scratch, req *request, tok string) error {
	var enc string
	a := algHMAC
	switch s.format {
	case formatSingle:
		if !strings.HasPrefix(tok, s.prefix) {
			sc.malformed(fmt.Sprintf("signature does not start with %q", s.prefix))
			return nil
		}
		enc = tok[len(s.prefix):]
	case formatStandard:
		ver, sig, ok := strings.Cut(tok, ",")
		switch {
		case !ok:
			sc.malformed("signature is not version,signature")
			return nil
		case ver == "v1":
			enc = sig
		case ver == "v1a":
			enc, a = sig, algEd25519
		default:
			sc.unknown++
			return nil
		}
	case formatStripe:
		k, v, ok := strings.Cut(tok, "=")
		switch {
		case !ok:
			sc.malformed("element is not key=value")
			return nil
		case k == "t":
			if req.hasTS {
				return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMalformed, Detail: "more than one t= timestamp"}
			}
			return s.setTimestamp(sc, req, v, req.set.sig)
		case k == "v1":
			enc = v
		default:
			sc.unknown++
			return nil
		}
	}
	want := sha256.Size
	if a == algEd25519 {
		want = ed25519.SignatureSize
	}
	if sc.n == maxSignatures {
		return &Error{Scheme: s.name, Header: req.set.sig, Err: ErrMalformed, Detail: "too many signatures"}
	}
	sc.tok = append(sc.tok[:0], enc...)
	n := s.enc.decode(sc.sigs[sc.n][:], sc.tok)
	switch {
	case n < 0:
		sc.malformed(fmt.Sprintf("signature is not %s of %d bytes", s.enc, want))
		return nil
	case n != want:
		sc.malformed(fmt.Sprintf("signature decodes to %d bytes, want %d", n, want))
		return nil
	}
	sc.lens[sc.n], sc.algs[sc.n] = uint8(n), a
	sc.n++
	return nil
}

// match reports whether any candidate in sc is a signature, by any of the
// keys in sc, of the content built around body.
func (s *Scheme) match(sc *scratch, req *request, body []byte) bool {
	hasHMAC, hasEd := sc.hasAlg(algHMAC), sc.hasAlg(algEd25519)
	var content []byte // the signed bytes in one piece, for Ed25519 only
	for _, k := range sc.keys {
		if k.isEd25519() {
			if !hasEd {
				continue
			}
			if content == nil {
				content = s.appendContent(nil, req.id, req.tsText, body)
			}
			for i := 0; i < sc.n; i++ {
				if sc.algs[i] == algEd25519 && ed25519.Verify(k.pub, content, sc.sigs[i][:sc.lens[i]]) {
					return true
				}
			}
			continue
		}
		if !hasHMAC {
			continue
		}
		sum := s.mac(k, sc, req.id, req.tsText, body)
		found := 0
		for i := 0; i < sc.n; i++ {
			if sc.algs[i] == algHMAC {
				found |= hmacEqual(sum, sc.sigs[i][:sc.lens[i]])
			}
		}
		if found != 0 {
			return true
		}
	}
	return false
}

func hmacEqual(a, b []byte) int {
	if hmac.Equal(a, b) {
		return 1
	}
	return 0
}

// mac computes the HMAC of the signed content into sc.sum.
func (s *Scheme) mac(k *key, sc *scratch, id string, ts, body []byte) []byte {
	m := k.macState()
	for _, p := range s.parts {
		switch p.kind {
		case partLiteral:
			m.Write(p.lit)
		case partID:
			sc.lit = append(sc.lit[:0], id...)
			m.Write(sc.lit)
		case partTimestamp:
			m.Write(ts)
		case partBody:
			m.Write(body)
		}
	}
	sum := m.Sum(sc.sum[:0])
	k.putMAC(m)
	return sum
}

// appendContent appends the signed byte string to dst.
func (s *Scheme) appendContent(dst []byte, id string, ts, body []byte) []byte {
	for _, p := range s.parts {
		switch p.kind {
		case partLiteral:
			dst = append(dst, p.lit...)
		case partID:
			dst = append(dst, id...)
		case partTimestamp:
			dst = append(dst, ts...)
		case partBody:
			dst = append(dst, body...)
		}
	}
	return dst
}

// serializeBody returns the serialization of body that a scheme signs.
func serializeBody(ser serialize, body []byte) ([]byte, error) {
	switch ser {
	case serialJS:
		return jsoncanon.JS(body)
	case serialPython:
		return jsoncanon.Python(body, nil)
	case serialPythonCompact:
		return jsoncanon.Python(body, &jsoncanon.PythonOptions{Compact: true})
	}
	return body, nil
}
