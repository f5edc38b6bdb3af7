package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/jsoncanon"
)

// A Diagnosis is what [Diagnose] found out about a request whose signature
// does not verify, or whose scheme is unknown.
type Diagnosis struct {
	// Matched reports whether some combination matched.
	Matched bool `json:"matched"`

	// Scheme is the built-in scheme that verifies the request as received,
	// or "" if none does.
	Scheme string `json:"scheme,omitempty"`

	// Header is the header whose signature matched, in canonical form.
	Header string `json:"header,omitempty"`

	// Algorithm is "HMAC-SHA256", "HMAC-SHA1", "HMAC-SHA512" or "Ed25519".
	Algorithm string `json:"algorithm,omitempty"`

	// Encoding of the matching signature: "hex", "base64" or "base64url".
	Encoding string `json:"encoding,omitempty"`

	// Prefix before the matching signature, such as "sha256=" or "v1,".
	Prefix string `json:"prefix,omitempty"`

	// Signed spells the signed bytes as a template, such as
	// "{id}.{timestamp}.{body}", with the headers the placeholders came
	// from in IDHeader and TimestampHeader.
	Signed          string `json:"signed,omitempty"`
	IDHeader        string `json:"id_header,omitempty"`
	TimestampHeader string `json:"timestamp_header,omitempty"`

	// Body says which bytes stood for {body}: "body as received", a
	// re-serialization such as "JSON.stringify of the body", or an edit
	// such as "body with its trailing newline removed".
	Body string `json:"body,omitempty"`

	// Secret is the index of the secret that matched and SecretAs how it
	// was used: "text", "base64 after whsec_", ...
	Secret   int    `json:"secret_index"`
	SecretAs string `json:"secret_as,omitempty"`

	// Custom is a custom scheme configuration that verifies the request,
	// when it matched and no built-in scheme does.
	Custom *CustomConfig `json:"custom,omitempty"`

	// Cause is the most likely reason nothing matched, or what to change
	// when the match needed an edit of the body or secret.
	Cause string `json:"cause,omitempty"`

	// Notes are further observations: timestamps outside the tolerance,
	// secrets with white space, signatures of an unexpected length.
	Notes []string `json:"notes,omitempty"`

	// Tried is how many combinations were computed.
	Tried int `json:"tried"`
}

// String formats d for people, one fact per line.
func (d Diagnosis) String() string {
	var b strings.Builder
	if d.Matched {
		fmt.Fprintf(&b, "match: %s signature in %s", d.Algorithm, d.Header)
		if d.Prefix != "" {
			fmt.Fprintf(&b, " after %q", d.Prefix)
		}
		fmt.Fprintf(&b, ", %s encoded\n", d.Encoding)
		fmt.Fprintf(&b, "signed bytes: %s", d.Signed)
		if d.IDHeader != "" {
			fmt.Fprintf(&b, " with {id} from %s", d.IDHeader)
		}
		if d.TimestampHeader != "" {
			fmt.Fprintf(&b, ", {timestamp} from %s", d.TimestampHeader)
		}
		fmt.Fprintf(&b, "\nbody: %s\n", d.Body)
		fmt.Fprintf(&b, "secret: #%d, used as %s\n", d.Secret+1, d.SecretAs)
		if d.Scheme != "" {
			fmt.Fprintf(&b, "scheme: %s\n", d.Scheme)
		} else if d.Custom != nil {
			j, _ := d.Custom.MarshalJSON()
			fmt.Fprintf(&b, "scheme: no built-in scheme; this custom scheme verifies it: %s\n", j)
		} else {
			b.WriteString("scheme: neither a built-in nor a custom scheme verifies it as received\n")
		}
	} else {
		b.WriteString("no match\n")
	}
	if d.Cause != "" {
		fmt.Fprintf(&b, "cause: %s\n", d.Cause)
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	fmt.Fprintf(&b, "tried: %d combination(s)\n", d.Tried)
	return b.String()
}

// Diagnose tries every scheme, encoding and serialization variant this
// package knows on a request, to say how it was signed or why it does not
// verify: every header value that decodes (as hex, base64 or base64url,
// after a "name=" or "vN," prefix) to a 20-, 32- or 64-byte signature; the
// raw body, its JSON.stringify and json.dumps re-serializations (default and
// compact separators, ensure_ascii on and off) and the body with a trailing
// newline removed or added; the templates of the built-in schemes with every
// ID and timestamp header found; each secret as text, base64 (after any
// whsec_ prefix), hex and trimmed; HMAC-SHA256, -SHA1 and -SHA512 and
// Ed25519. It is meant for people debugging an integration and costs
// hundreds of HMACs over the body; never use it to accept requests.
func Diagnose(h http.Header, body []byte, secrets []string) Diagnosis {
	var d Diagnosis
	cands, notes := diagCandidates(h)
	d.Notes = notes
	ids, stamps := diagMeta(h, cands)
	d.Notes = append(d.Notes, diagTimestampNotes(stamps)...)
	forms := diagSecretForms(secrets, &d)
	bodies := diagBodies(body)

	templates := []diagTemplate{{text: "{body}"}}
	for _, ts := range stamps {
		for _, id := range ids {
			templates = append(templates, diagTemplate{text: "{id}.{timestamp}.{body}", id: id, ts: ts})
		}
		for _, t := range []string{"{timestamp}.{body}", "v0:{timestamp}:{body}", "{timestamp}:{body}", "{timestamp}{body}"} {
			templates = append(templates, diagTemplate{text: t, ts: ts})
		}
	}
	lengths := map[int]bool{}
	for _, c := range cands {
		lengths[len(c.sig)] = true
	}
	hashes := []struct {
		name string
		size int
		new  func() hash.Hash
	}{{"HMAC-SHA256", 32, sha256.New}, {"HMAC-SHA1", 20, sha1.New}, {"HMAC-SHA512", 64, sha512.New}}

	var matchedBody []byte
	match := func(c diagCandidate, t diagTemplate, bv diagBody, f diagSecret, alg string) {
		d.Matched = true
		d.Header, d.Algorithm, d.Encoding, d.Prefix = c.header, alg, c.enc.String(), c.prefix
		d.Signed, d.IDHeader, d.TimestampHeader = t.text, t.id.header, t.ts.header
		d.Body, d.Secret, d.SecretAs = bv.label, f.index, f.label
		matchedBody = bv.b
	}
	var content []byte
search:
	for _, t := range templates {
		for _, bv := range bodies {
			content = t.appendContent(content[:0], bv.b)
			for _, f := range forms {
				if f.pub != nil {
					d.Tried++
					for _, c := range cands {
						if len(c.sig) == ed25519.SignatureSize && ed25519.Verify(f.pub, content, c.sig) {
							match(c, t, bv, f, "Ed25519")
							break search
						}
					}
					continue
				}
				for _, hh := range hashes {
					if !lengths[hh.size] {
						continue
					}
					d.Tried++
					m := hmac.New(hh.new, f.key)
					m.Write(content)
					sum := m.Sum(nil)
					for _, c := range cands {
						if hmac.Equal(sum, c.sig) {
							match(c, t, bv, f, hh.name)
							break search
						}
					}
				}
			}
		}
	}
	if d.Matched {
		d.identify(h, body, matchedBody, secrets)
		return d
	}
	d.Cause = diagCause(cands, forms, body, len(secrets))
	return d
}

// identify finds the built-in or custom scheme that verifies the request as
// it was received, and says what to change when none does.
func (d *Diagnosis) identify(h http.Header, body, signed []byte, secrets []string) {
	secret := secrets[d.Secret]
	var opts *VerifyOptions
	if d.TimestampHeader != "" {
		if ts, ok := parseUnix(diagTimestampValue(h, d.TimestampHeader)); ok {
			opts = &VerifyOptions{Now: func() time.Time { return time.Unix(ts, 0) }}
		}
	}
	for _, n := range Names() {
		if builtins[n].Verify(h, body, []string{secret}, opts) == nil {
			d.Scheme = n
			return
		}
	}
	for _, n := range Names() {
		if builtins[n].Verify(h, signed, []string{secret}, opts) == nil {
			d.Cause = fmt.Sprintf("the signature is a valid %s signature of the %s, not of the body as received: "+
				"something between sender and receiver changed the body (the sender signed the bytes it sent); "+
				"pass the receiver the exact bytes sent", n, d.Body)
			if d.Body == bodyTrimmed {
				d.Cause += " (echo and text editors add a final newline; use printf, or curl --data-binary @file)"
			}
			return
		}
	}
	cfg := CustomConfig{Name: "diagnosed", Header: d.Header, Encoding: d.Encoding, Prefix: d.Prefix}
	switch d.SecretAs {
	case "text":
	case "base64", "base64 after whsec_":
		cfg.SecretEncoding = "base64"
	case "text with white space trimmed":
		d.Cause = "the secret matched only with the white space around it removed: remove it where the secret is configured"
		return
	default:
		d.Cause = fmt.Sprintf("the secret matched only when used as %s: configure it in that form", d.SecretAs)
		return
	}
	switch d.Body {
	case bodyRaw:
	case bodyJS:
		cfg.Signed = "js"
	case bodyPython:
		cfg.Signed = "python"
	case bodyPythonCompact:
		cfg.Signed = "python-compact"
	default:
		d.Cause = fmt.Sprintf("the signature covers the %s, not the body as received: make sure the receiver gets the exact bytes the sender signed", d.Body)
		return
	}
	if d.Signed != "{body}" {
		if cfg.Signed != "" {
			d.Cause = fmt.Sprintf("the sender signs a template over the %s, which no scheme expresses", strings.TrimSuffix(d.Body, " of the body"))
			return
		}
		cfg.Signed, cfg.Template, cfg.IDHeader, cfg.TimestampHeader = "template", d.Signed, d.IDHeader, d.TimestampHeader
	}
	switch d.Algorithm {
	case "HMAC-SHA256":
	case "Ed25519":
		d.Cause = "Ed25519 signatures are verified only as Standard Webhooks v1a, over {id}.{timestamp}.{body} in webhook-signature"
		return
	default:
		d.Cause = fmt.Sprintf("%s signatures are not supported by hookrelay's schemes", d.Algorithm)
		return
	}
	s, err := Custom(cfg)
	if err == nil && s.Verify(h, body, []string{secret}, opts) == nil {
		d.Custom = &cfg
	}
}

type diagCandidate struct {
	header, prefix string
	enc            encoding
	sig            []byte
}

// diagCandidates collects every header value that decodes to a signature.
func diagCandidates(h http.Header) ([]diagCandidate, []string) {
	var cands []diagCandidate
	var notes []string
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range h[name] {
			for _, word := range strings.Fields(v) {
				var pieces []string
				if i := strings.IndexByte(word, ','); i > 0 && isVersion(word[:i]) {
					pieces = []string{word}
				} else {
					pieces = strings.FieldsFunc(word, func(r rune) bool { return r == ',' || r == ';' })
				}
				for _, p := range pieces {
					prefix, val := splitPrefix(p)
					noted := false
					for _, enc := range []encoding{encHex, encBase64, encBase64URL} {
						buf := make([]byte, len(val))
						n := enc.decode(buf, []byte(val))
						if n < 0 {
							continue
						}
						if n == 20 || n == 32 || n == 64 {
							cands = append(cands, diagCandidate{header: name, prefix: prefix, enc: enc, sig: buf[:n]})
							if enc == encHex {
								break // hex is also valid base64; do not count it twice
							}
						} else if n > 16 && prefix != "" && !noted {
							noted = true
							notes = append(notes, fmt.Sprintf("%s: %q decodes (%s) to %d bytes, which is no MAC length hookrelay knows (truncated?)", name, p, enc, n))
						}
					}
				}
			}
		}
	}
	return cands, notes
}

func isVersion(s string) bool {
	return len(s) >= 2 && s[0] == 'v' && strings.Trim(s[1:], "0123456789a") == ""
}

// splitPrefix splits "sha256=abc" into "sha256=" and "abc", and "v1,abc"
// into "v1," and "abc"; base64 padding is not taken for a separator.
func splitPrefix(p string) (prefix, val string) {
	if i := strings.IndexByte(p, ','); i > 0 && isVersion(p[:i]) {
		return p[:i+1], p[i+1:]
	}
	if i := strings.IndexByte(p, '='); i > 0 && strings.Trim(p[i:], "=") != "" {
		return p[:i+1], p[i+1:]
	}
	return "", p
}

type diagValue struct {
	header, value string
}

// diagMeta collects the message IDs and Unix timestamps found in headers
// and in Stripe-style t= elements, at most two of each.
func diagMeta(h http.Header, cands []diagCandidate) (ids, stamps []diagValue) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		lower := strings.ToLower(name)
		v := h.Get(name)
		switch {
		case strings.Contains(lower, "timestamp"):
			if _, ok := parseUnix(v); ok && len(stamps) < 2 {
				stamps = append(stamps, diagValue{name, v})
			}
		case strings.HasSuffix(lower, "-id") || strings.Contains(lower, "delivery"):
			if v != "" && len(ids) < 2 {
				ids = append(ids, diagValue{name, v})
			}
		}
		for _, word := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			if t, ok := strings.CutPrefix(word, "t="); ok {
				if _, ok := parseUnix(t); ok && len(stamps) < 2 {
					stamps = append(stamps, diagValue{name + " t=", t})
				}
			}
		}
	}
	return ids, stamps
}

func diagTimestampValue(h http.Header, header string) string {
	if name, ok := strings.CutSuffix(header, " t="); ok {
		for _, word := range strings.FieldsFunc(h.Get(name), func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
			if t, ok := strings.CutPrefix(word, "t="); ok {
				return t
			}
		}
		return ""
	}
	return h.Get(header)
}

func diagTimestampNotes(stamps []diagValue) []string {
	var notes []string
	now := time.Now()
	for _, s := range stamps {
		ts, _ := parseUnix(s.value)
		age := now.Sub(time.Unix(ts, 0)).Round(time.Second)
		if age > 5*time.Minute || age < -5*time.Minute {
			notes = append(notes, fmt.Sprintf("%s is %s: even a matching signature is refused as expired unless verified at that time (verify --now %d)", s.header, describeAge(age), ts))
		}
	}
	return notes
}

type diagTemplate struct {
	text   string
	id, ts diagValue
}

func (t diagTemplate) appendContent(dst, body []byte) []byte {
	for rest := t.text; rest != ""; {
		switch {
		case strings.HasPrefix(rest, "{id}"):
			dst, rest = append(dst, t.id.value...), rest[len("{id}"):]
		case strings.HasPrefix(rest, "{timestamp}"):
			dst, rest = append(dst, t.ts.value...), rest[len("{timestamp}"):]
		case strings.HasPrefix(rest, "{body}"):
			dst, rest = append(dst, body...), rest[len("{body}"):]
		default:
			dst, rest = append(dst, rest[0]), rest[1:]
		}
	}
	return dst
}

type diagSecret struct {
	index int
	label string
	key   []byte
	pub   ed25519.PublicKey
}

func diagSecretForms(secrets []string, d *Diagnosis) []diagSecret {
	var forms []diagSecret
	for i, s := range secrets {
		add := func(label string, key []byte) {
			for _, f := range forms {
				if f.index == i && f.pub == nil && bytes.Equal(f.key, key) {
					return
				}
			}
			if len(key) > 0 {
				forms = append(forms, diagSecret{index: i, label: label, key: key})
			}
		}
		if strings.HasPrefix(s, PrefixSecretKey) || strings.HasPrefix(s, PrefixPublicKey) {
			if k := newKey(keyBase64, s); k.err == nil {
				forms = append(forms, diagSecret{index: i, label: "Ed25519 key", pub: k.pub})
			} else {
				d.Notes = append(d.Notes, fmt.Sprintf("secret #%d looks like an Ed25519 key but is not one: %s", i+1, strings.TrimPrefix(k.err.Error(), ErrSecret.Error()+": ")))
			}
			continue
		}
		add("text", []byte(s))
		if t := strings.TrimSpace(s); t != s {
			d.Notes = append(d.Notes, fmt.Sprintf("secret #%d has leading or trailing white space", i+1))
			add("text with white space trimmed", []byte(t))
			s = t
		}
		if rest, ok := strings.CutPrefix(s, PrefixSecret); ok {
			if b, ok := decodeBase64Secret(rest); ok {
				add("base64 after whsec_", b)
			}
			add("text without the whsec_ prefix", []byte(rest))
			continue
		}
		if b, ok := decodeBase64Secret(s); ok && len(b) >= 16 {
			add("base64", b)
		}
		if b, ok := decodeBase64URLSecret(s); ok && len(b) >= 16 {
			add("base64url", b)
		}
		if len(s) >= 32 && len(s)%2 == 0 {
			buf := make([]byte, len(s)/2)
			if encHex.decode(buf, []byte(s)) == len(buf) {
				add("hex", buf)
			}
		}
	}
	return forms
}

func decodeBase64URLSecret(s string) ([]byte, bool) {
	enc := base64.URLEncoding
	if len(s)%4 != 0 {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	return b, err == nil
}

// Labels of the body variants Diagnose tries.
const (
	bodyRaw           = "body as received"
	bodyTrimmed       = "body with its trailing newline removed"
	bodyNewline       = "body with a trailing newline added"
	bodyJS            = "JSON.stringify of the body"
	bodyPython        = "json.dumps of the body"
	bodyPythonCompact = "json.dumps of the body with separators=(',', ':')"
)

type diagBody struct {
	label string
	b     []byte
}

func diagBodies(body []byte) []diagBody {
	var out []diagBody
	add := func(label string, b []byte, err error) {
		if err != nil {
			return
		}
		for _, o := range out {
			if bytes.Equal(o.b, b) {
				return
			}
		}
		out = append(out, diagBody{label, b})
	}
	add(bodyRaw, body, nil)
	if t := bytes.TrimRight(body, "\r\n"); len(t) < len(body) {
		add(bodyTrimmed, t, nil)
	} else {
		add(bodyNewline, append(slices.Clip(body), '\n'), nil)
	}
	js, err := jsoncanon.JS(body)
	add(bodyJS, js, err)
	py, err := jsoncanon.Python(body, nil)
	add(bodyPython, py, err)
	pyc, err := jsoncanon.Python(body, &jsoncanon.PythonOptions{Compact: true})
	add(bodyPythonCompact, pyc, err)
	pyu, err := jsoncanon.Python(body, &jsoncanon.PythonOptions{KeepNonASCII: true})
	add(bodyPython+" with ensure_ascii=False", pyu, err)
	pycu, err := jsoncanon.Python(body, &jsoncanon.PythonOptions{Compact: true, KeepNonASCII: true})
	add(bodyPythonCompact+" and ensure_ascii=False", pycu, err)
	return out
}

func diagCause(cands []diagCandidate, forms []diagSecret, body []byte, nsecrets int) string {
	if len(cands) == 0 {
		return "no header holds a value that decodes (hex, base64 or base64url) to a 20-, 32- or 64-byte signature: check that the signature header was passed, whole"
	}
	hasEd, hasMAC := false, false
	for _, c := range cands {
		if c.prefix == "v1a," {
			hasEd = true
		} else {
			hasMAC = true
		}
	}
	hasPub := false
	for _, f := range forms {
		hasPub = hasPub || f.pub != nil
	}
	if hasEd && !hasMAC && !hasPub {
		return "the signatures are Standard Webhooks v1a (Ed25519): verify them with the sender's whpk_ public key, not a shared secret"
	}
	if nsecrets == 0 {
		return "no secret given"
	}
	why := "no combination matched. The secret is most likely wrong (another endpoint's, another environment's, or rotated), or the body changed on its way: a proxy or framework that parsed and re-serialized it, re-encoded its characters or decompressed it. Pass the exact raw body bytes."
	if _, err := jsoncanon.JS(body); err != nil {
		why += " The body is not JSON, so no re-serialization was tried."
	}
	return why
}

// describeAge says how far in the past or future a timestamp is.
func describeAge(age time.Duration) string {
	when := "old"
	if age < 0 {
		age, when = -age, "in the future"
	}
	if age >= 48*time.Hour {
		return fmt.Sprintf("%d days %s", age/(24*time.Hour), when)
	}
	return fmt.Sprintf("%s %s", age, when)
}
