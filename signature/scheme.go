package signature

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// A Scheme is a webhook signature scheme: which headers carry the signature
// and what else is signed with it, which bytes are signed, how the MAC is
// encoded and how a secret becomes a key. Get one with [Lookup] or [Custom].
// A Scheme is immutable and safe for concurrent use.
type Scheme struct {
	name string

	// sets lists the header names the scheme reads, in order of preference.
	// Standard Webhooks has two: the webhook-* names and the svix-* names.
	sets []headerSet

	format  format
	enc     encoding
	prefix  string
	parts   []part    // what is signed, in order; exactly one partBody
	serial  serialize // serialization of the payload that is signed
	key     keyForm
	tol     time.Duration // default tolerance; 0 for untimestamped schemes
	idHdr   string        // canonical header holding an unsigned message ID, if any
	idField bool          // the message ID is the "id" member of the JSON body
	custom  *CustomConfig // the configuration of a custom scheme
}

// headerSet names the headers of one spelling of a scheme. id and ts are
// empty when the scheme does not carry them in headers.
type headerSet struct {
	sig, id, ts             string // canonical header keys
	sigName, idName, tsName string // documented spellings
}

type format uint8

const (
	formatSingle   format = iota // prefix + encoded MAC, several separated by spaces or commas
	formatStandard               // "v1,<base64> v1a,<base64>", space separated
	formatStripe                 // "t=<unix>,v1=<hex>,v1=<hex>,v0=<hex>"
)

type serialize uint8

const (
	serialRaw           serialize = iota // the payload bytes as they are
	serialJS                             // JSON.stringify(JSON.parse(payload))
	serialPython                         // json.dumps(json.loads(payload))
	serialPythonCompact                  // json.dumps(..., separators=(',', ':'))
)

func (s serialize) String() string {
	switch s {
	case serialJS:
		return "js"
	case serialPython:
		return "python"
	case serialPythonCompact:
		return "python-compact"
	}
	return "raw"
}

// language names the serializer, for messages.
func (s serialize) language() string {
	switch s {
	case serialJS:
		return "JSON.stringify"
	case serialPython:
		return "json.dumps"
	case serialPythonCompact:
		return "compact json.dumps"
	}
	return "raw"
}

type keyForm uint8

const (
	keyText   keyForm = iota // the secret's UTF-8 bytes
	keyBase64                // optional whsec_ prefix, then standard base64; whsk_/whpk_ are Ed25519 keys
	numKeyForms
)

type partKind uint8

const (
	partLiteral partKind = iota
	partID
	partTimestamp
	partBody
)

type part struct {
	kind partKind
	lit  []byte
}

func lit(s string) part { return part{kind: partLiteral, lit: []byte(s)} }

var (
	pID   = part{kind: partID}
	pTS   = part{kind: partTimestamp}
	pBody = part{kind: partBody}
)

func set(sig, id, ts string) headerSet {
	return headerSet{
		sig: http.CanonicalHeaderKey(sig), sigName: sig,
		id: canonicalOrEmpty(id), idName: id,
		ts: canonicalOrEmpty(ts), tsName: ts,
	}
}

func canonicalOrEmpty(s string) string {
	if s == "" {
		return ""
	}
	return http.CanonicalHeaderKey(s)
}

// builtins are the schemes [Lookup] knows; the facts and their sources are
// in the package documentation.
var builtins = map[string]*Scheme{
	"standard": {
		name: "standard",
		sets: []headerSet{
			set("webhook-signature", "webhook-id", "webhook-timestamp"),
			set("svix-signature", "svix-id", "svix-timestamp"),
		},
		format: formatStandard, enc: encBase64,
		parts: []part{pID, lit("."), pTS, lit("."), pBody},
		key:   keyBase64, tol: 5 * time.Minute,
	},
	"github": {
		name: "github", sets: []headerSet{set("X-Hub-Signature-256", "", "")},
		enc: encHex, prefix: "sha256=", parts: []part{pBody},
		idHdr: http.CanonicalHeaderKey("X-GitHub-Delivery"),
	},
	"stripe": {
		name: "stripe", sets: []headerSet{set("Stripe-Signature", "", "")},
		format: formatStripe, enc: encHex,
		parts: []part{pTS, lit("."), pBody}, tol: 300 * time.Second, idField: true,
	},
	"shopify": {
		name: "shopify", sets: []headerSet{set("X-Shopify-Hmac-Sha256", "", "")},
		enc: encBase64, parts: []part{pBody},
		idHdr: http.CanonicalHeaderKey("X-Shopify-Webhook-Id"),
	},
	"slack": {
		name: "slack", sets: []headerSet{set("X-Slack-Signature", "", "X-Slack-Request-Timestamp")},
		enc: encHex, prefix: "v0=",
		parts: []part{lit("v0:"), pTS, lit(":"), pBody}, tol: 5 * time.Minute,
	},
	"plextrac": {
		name: "plextrac", sets: []headerSet{set("x-authorization-hmac-256", "", "")},
		enc: encHex, parts: []part{pBody}, serial: serialJS,
	},
	"teak": {
		name: "teak", sets: []headerSet{set("X-Protecht-Signature", "", "")},
		enc: encBase64, parts: []part{pBody}, serial: serialPython,
	},
}

// aliases are other names [Lookup] accepts for a built-in scheme.
var aliases = map[string]string{"svix": "standard", "standard-webhooks": "standard", "protecht": "teak"}

// Lookup returns the built-in scheme called name: one of [Names], or the
// alias "svix" (or "standard-webhooks") for "standard" and "protecht" for
// "teak". Names are matched without regard to case. For any other name it
// returns an error wrapping [ErrUnknownScheme].
func Lookup(name string) (*Scheme, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	if a, ok := aliases[n]; ok {
		n = a
	}
	if s, ok := builtins[n]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("signature: %w %q (built-in schemes: %s)", ErrUnknownScheme, name, strings.Join(Names(), ", "))
}

// Names returns the names of the built-in schemes, sorted.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Name returns the scheme's name, as given to [Lookup] or in
// [CustomConfig.Name].
func (s *Scheme) Name() string { return s.name }

// String returns the scheme's name.
func (s *Scheme) String() string { return s.name }

// Tolerance returns how far a signed timestamp may be from the current time,
// in either direction, before [Scheme.Verify] refuses it with [ErrExpired].
// It is 0 for schemes that sign no timestamp.
func (s *Scheme) Tolerance() time.Duration { return s.tol }

// Headers returns the names of the headers the scheme sends and reads, in
// their documented spelling: the ID and timestamp headers if it has them,
// then the signature header. Standard Webhooks also accepts the svix-*
// spellings of its three headers, which are not listed.
func (s *Scheme) Headers() []string {
	hs := s.sets[0]
	var out []string
	if hs.idName != "" {
		out = append(out, hs.idName)
	}
	if hs.tsName != "" {
		out = append(out, hs.tsName)
	}
	return append(out, hs.sigName)
}

// Config returns the configuration a custom scheme was made from, and
// false for a built-in scheme.
func (s *Scheme) Config() (CustomConfig, bool) {
	if s.custom == nil {
		return CustomConfig{}, false
	}
	return *s.custom, true
}

// MessageID returns the sender's ID for the message in h and body, for
// idempotency and logging: webhook-id (or svix-id) for Standard Webhooks,
// the "id" member of a Stripe event, X-GitHub-Delivery, X-Shopify-Webhook-Id,
// a custom scheme's IDHeader, and "" when the scheme or request has none.
// The ID is authenticated only where the scheme signs it (Standard
// Webhooks, custom templates with {id}, Stripe's body); check the signature
// first.
func (s *Scheme) MessageID(h http.Header, body []byte) string {
	switch {
	case s.idField:
		var ev struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &ev) != nil {
			return ""
		}
		return ev.ID
	case s.idHdr != "":
		return h.Get(s.idHdr)
	}
	for _, hs := range s.sets {
		if hs.id != "" && len(h[hs.sig]) > 0 {
			return h.Get(hs.id)
		}
	}
	for _, hs := range s.sets {
		if id := h.Get(hs.id); hs.id != "" && id != "" {
			return id
		}
	}
	return ""
}

// timestamped reports whether the scheme signs a timestamp.
func (s *Scheme) timestamped() bool { return s.tol > 0 }

// needsID reports whether the signed bytes include the message ID.
func (s *Scheme) needsID() bool {
	for _, p := range s.parts {
		if p.kind == partID {
			return true
		}
	}
	return false
}

// CustomConfig describes a scheme that is not built in. The zero values of
// the optional fields are the defaults documented on each. Its JSON form uses
// the snake_case names in the tags, with the tolerance as a Go duration
// string such as "5m" (a number is read as seconds).
type CustomConfig struct {
	// Name identifies the scheme. It must not be the name of a built-in.
	Name string `json:"name"`

	// Header is the header that carries the signature, such as
	// "X-Acme-Signature".
	Header string `json:"header"`

	// Encoding of the HMAC-SHA256 in the header: "hex" (the default;
	// either case is accepted), "base64" or "base64url" (with or without
	// padding).
	Encoding string `json:"encoding,omitempty"`

	// Prefix precedes each encoded signature, such as "sha256=" or "v1=".
	Prefix string `json:"prefix,omitempty"`

	// Signed says which bytes are signed: "raw" (the default: the body as
	// received), "js" (JSON.stringify of the parsed body), "python"
	// (json.dumps with its defaults), "python-compact" (json.dumps with
	// separators=(',', ':')), or "template" (Template).
	Signed string `json:"signed,omitempty"`

	// Template, for Signed "template", spells the signed bytes with the
	// placeholders {id}, {timestamp} and {body}, such as
	// "{id}.{timestamp}.{body}"; everything else is literal. {body}, the raw
	// body, must appear exactly once.
	Template string `json:"template,omitempty"`

	// IDHeader holds the message ID: the value of {id}, and what
	// [Scheme.MessageID] returns.
	IDHeader string `json:"id_header,omitempty"`

	// TimestampHeader holds the Unix time in seconds that {timestamp}
	// stands for. The template must sign it.
	TimestampHeader string `json:"timestamp_header,omitempty"`

	// Tolerance is how far the timestamp may be from the current time. Zero
	// means 5 minutes. It applies only with a TimestampHeader.
	Tolerance time.Duration `json:"tolerance,omitempty"`

	// SecretEncoding says how a secret becomes the HMAC key: "text" (the
	// default: its UTF-8 bytes) or "base64" (an optional "whsec_" prefix,
	// then standard base64, as Standard Webhooks does).
	SecretEncoding string `json:"secret_encoding,omitempty"`
}

type customJSON struct {
	Name            string          `json:"name"`
	Header          string          `json:"header"`
	Encoding        string          `json:"encoding,omitempty"`
	Prefix          string          `json:"prefix,omitempty"`
	Signed          string          `json:"signed,omitempty"`
	Template        string          `json:"template,omitempty"`
	IDHeader        string          `json:"id_header,omitempty"`
	TimestampHeader string          `json:"timestamp_header,omitempty"`
	Tolerance       json.RawMessage `json:"tolerance,omitempty"`
	SecretEncoding  string          `json:"secret_encoding,omitempty"`
}

// MarshalJSON writes c with its tolerance as a duration string.
func (c CustomConfig) MarshalJSON() ([]byte, error) {
	j := customJSON{
		Name: c.Name, Header: c.Header, Encoding: c.Encoding, Prefix: c.Prefix,
		Signed: c.Signed, Template: c.Template, IDHeader: c.IDHeader,
		TimestampHeader: c.TimestampHeader, SecretEncoding: c.SecretEncoding,
	}
	if c.Tolerance != 0 {
		j.Tolerance, _ = json.Marshal(c.Tolerance.String())
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads c, accepting the tolerance as a duration string
// ("90s", "5m") or a number of seconds.
func (c *CustomConfig) UnmarshalJSON(b []byte) error {
	var j customJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var tol time.Duration
	if len(j.Tolerance) > 0 && string(j.Tolerance) != "null" {
		var s string
		var secs float64
		switch {
		case json.Unmarshal(j.Tolerance, &s) == nil:
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("signature: custom scheme tolerance: %w", err)
			}
			tol = d
		case json.Unmarshal(j.Tolerance, &secs) == nil:
			tol = time.Duration(secs * float64(time.Second))
		default:
			return fmt.Errorf("signature: custom scheme tolerance %s: want a duration string or seconds", j.Tolerance)
		}
	}
	*c = CustomConfig{
		Name: j.Name, Header: j.Header, Encoding: j.Encoding, Prefix: j.Prefix,
		Signed: j.Signed, Template: j.Template, IDHeader: j.IDHeader,
		TimestampHeader: j.TimestampHeader, Tolerance: tol, SecretEncoding: j.SecretEncoding,
	}
	return nil
}

// Custom returns a scheme built from cfg, or an error that names the field
// that is wrong.
func Custom(cfg CustomConfig) (*Scheme, error) {
	fail := func(format string, args ...any) (*Scheme, error) {
		return nil, fmt.Errorf("signature: custom scheme %q: %s", cfg.Name, fmt.Sprintf(format, args...))
	}
	if cfg.Name == "" || strings.ContainsFunc(cfg.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return fail("name must be non-empty, without spaces or control characters")
	}
	if _, err := Lookup(cfg.Name); err == nil {
		return fail("name is taken by a built-in scheme")
	}
	if !validHeaderName(cfg.Header) {
		return fail("header %q is not a valid header name", cfg.Header)
	}
	s := &Scheme{name: cfg.Name, format: formatSingle, prefix: cfg.Prefix}
	switch cfg.Encoding {
	case "", "hex":
		s.enc = encHex
	case "base64":
		s.enc = encBase64
	case "base64url":
		s.enc = encBase64URL
	default:
		return fail("encoding %q: want hex, base64 or base64url", cfg.Encoding)
	}
	if strings.ContainsFunc(cfg.Prefix, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return fail("prefix contains a control character")
	}
	switch cfg.SecretEncoding {
	case "", "text":
		s.key = keyText
	case "base64":
		s.key = keyBase64
	default:
		return fail("secret_encoding %q: want text or base64", cfg.SecretEncoding)
	}
	for _, h := range []string{cfg.IDHeader, cfg.TimestampHeader} {
		if h != "" && !validHeaderName(h) {
			return fail("header %q is not a valid header name", h)
		}
	}
	s.parts = []part{pBody}
	switch cfg.Signed {
	case "", "raw":
	case "js":
		s.serial = serialJS
	case "python":
		s.serial = serialPython
	case "python-compact":
		s.serial = serialPythonCompact
	case "template":
		parts, err := parseTemplate(cfg.Template)
		if err != nil {
			return fail("template: %v", err)
		}
		s.parts = parts
	default:
		return fail("signed %q: want raw, js, python, python-compact or template", cfg.Signed)
	}
	if cfg.Signed != "template" && cfg.Template != "" {
		return fail("template is set but signed is %q, not \"template\"", cfg.Signed)
	}
	hs := set(cfg.Header, "", "")
	for _, p := range s.parts {
		switch p.kind {
		case partID:
			if cfg.IDHeader == "" {
				return fail("template uses {id} but id_header is empty")
			}
			hs.id, hs.idName = http.CanonicalHeaderKey(cfg.IDHeader), cfg.IDHeader
		case partTimestamp:
			if cfg.TimestampHeader == "" {
				return fail("template uses {timestamp} but timestamp_header is empty")
			}
			hs.ts, hs.tsName = http.CanonicalHeaderKey(cfg.TimestampHeader), cfg.TimestampHeader
		}
	}
	if cfg.TimestampHeader != "" && hs.ts == "" {
		return fail("timestamp_header is set but the signed bytes do not include {timestamp}, so the timestamp would not be authenticated")
	}
	if cfg.IDHeader != "" && hs.id == "" {
		s.idHdr = http.CanonicalHeaderKey(cfg.IDHeader)
	}
	if cfg.Tolerance < 0 {
		return fail("tolerance must not be negative")
	}
	if hs.ts != "" {
		s.tol = cfg.Tolerance
		if s.tol == 0 {
			s.tol = 5 * time.Minute
		}
	}
	s.sets = []headerSet{hs}
	c := cfg
	s.custom = &c
	return s, nil
}

func parseTemplate(t string) ([]part, error) {
	var parts []part
	var litb strings.Builder
	flush := func() {
		if litb.Len() > 0 {
			parts = append(parts, lit(litb.String()))
			litb.Reset()
		}
	}
	bodies := 0
	for i := 0; i < len(t); {
		if t[i] != '{' {
			litb.WriteByte(t[i])
			i++
			continue
		}
		end := strings.IndexByte(t[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed '{' at byte %d", i)
		}
		name := t[i+1 : i+end]
		flush()
		switch name {
		case "id":
			parts = append(parts, pID)
		case "timestamp":
			parts = append(parts, pTS)
		case "body":
			parts = append(parts, pBody)
			bodies++
		default:
			return nil, fmt.Errorf("unknown placeholder {%s}: want {id}, {timestamp} or {body}", name)
		}
		i += end + 1
	}
	flush()
	if bodies != 1 {
		return nil, fmt.Errorf("{body} must appear exactly once, not %d times", bodies)
	}
	return parts, nil
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
