package signature

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzSchemes are the schemes the fuzz targets pick from by index.
var fuzzSchemes = func() []*Scheme {
	var out []*Scheme
	for _, n := range Names() {
		out = append(out, builtins[n])
	}
	for _, c := range []CustomConfig{
		{Name: "fz-tmpl", Header: "X-Sig", Encoding: "base64url", Prefix: "v1,", Signed: "template",
			Template: "{id}:{timestamp}:{body}", IDHeader: "X-Id", TimestampHeader: "X-Ts"},
		{Name: "fz-py", Header: "X-Sig", Encoding: "base64", Prefix: "sig ", Signed: "python-compact", SecretEncoding: "base64"},
	} {
		s, err := Custom(c)
		if err != nil {
			panic(err)
		}
		out = append(out, s)
	}
	return out
}()

const (
	fuzzID = "msg_fuzz"
	fuzzTS = "1700000000"
)

// fuzzRequest builds the headers of a request to s whose signature header
// holds sig.
func fuzzRequest(s *Scheme, sig, id, ts string) http.Header {
	h := http.Header{}
	hs := s.sets[0]
	h[hs.sig] = []string{sig}
	if hs.id != "" {
		h[hs.id] = []string{id}
	}
	if hs.ts != "" {
		h[hs.ts] = []string{ts}
	}
	return h
}

// referenceAccepts is a plain reference check, written apart from Verify:
// it recomputes the MAC (or checks the Ed25519 signature) of the signed bytes
// around each candidate body (the body, and for serialization schemes its
// re-serialization) and compares it as text with every signature in the
// header. Verify must never accept what this refuses.
func referenceAccepts(s *Scheme, h http.Header, body []byte, secret string) bool {
	var key []byte
	var pub ed25519.PublicKey
	switch {
	case s.key == keyText:
		key = []byte(secret)
	case strings.HasPrefix(secret, "whpk_"):
		b, _ := base64.StdEncoding.DecodeString(secret[5:])
		pub = b
	case strings.HasPrefix(secret, "whsk_"):
		b, _ := base64.StdEncoding.DecodeString(secret[5:])
		if len(b) >= 32 {
			pub = ed25519.NewKeyFromSeed(b[:32]).Public().(ed25519.PublicKey)
		}
	default:
		k := strings.TrimPrefix(secret, "whsec_")
		var err error
		if key, err = base64.StdEncoding.DecodeString(k); err != nil {
			key, _ = base64.RawStdEncoding.DecodeString(k)
		}
	}
	bodies := [][]byte{body}
	if s.serial != serialRaw {
		if c, err := serializeBody(s.serial, body); err == nil {
			bodies = append(bodies, c)
		}
	}
	var hs headerSet
	for _, set := range s.sets {
		if len(h[set.sig]) > 0 {
			hs = set
			break
		}
	}
	id, ts := h.Get(hs.id), h.Get(hs.ts)
	template := map[string]string{
		"standard": "{id}.{timestamp}.{body}", "stripe": "{timestamp}.{body}", "slack": "v0:{timestamp}:{body}",
	}[s.name]
	if cfg, ok := s.Config(); ok && cfg.Signed == "template" {
		template = cfg.Template
	}
	if template == "" {
		template = "{body}"
	}
	canonTS := func(ts string) (string, bool) {
		n, err := strconv.ParseUint(ts, 10, 63)
		if err != nil || strings.TrimLeft(ts, "0123456789") != "" {
			return "", false
		}
		return strconv.FormatUint(n, 10), true
	}
	check := func(sig string, ts string, enc encoding, ed bool) bool {
		t, ok := canonTS(ts)
		if !ok && strings.Contains(template, "{timestamp}") {
			return false
		}
		before, after, _ := strings.Cut(template, "{body}")
		fill := strings.NewReplacer("{id}", id, "{timestamp}", t)
		for _, b := range bodies {
			content := []byte(fill.Replace(before) + string(b) + fill.Replace(after))
			if ed {
				raw, err := base64.StdEncoding.DecodeString(sig)
				if pub != nil && err == nil && ed25519.Verify(pub, content, raw) {
					return true
				}
				continue
			}
			if pub != nil || len(key) == 0 {
				continue
			}
			m := hmac.New(sha256.New, key)
			m.Write(content)
			sum := m.Sum(nil)
			switch enc {
			case encHex:
				if strings.EqualFold(sig, hex.EncodeToString(sum)) {
					return true
				}
			case encBase64:
				if sig == base64.StdEncoding.EncodeToString(sum) || sig == base64.RawStdEncoding.EncodeToString(sum) {
					return true
				}
			case encBase64URL:
				if sig == base64.URLEncoding.EncodeToString(sum) || sig == base64.RawURLEncoding.EncodeToString(sum) {
					return true
				}
			}
		}
		return false
	}
	for _, v := range h[hs.sig] {
		switch s.format {
		case formatStandard:
			for _, tok := range strings.Split(v, " ") {
				ver, sig, _ := strings.Cut(tok, ",")
				if (ver == "v1" && check(sig, ts, encBase64, false)) || (ver == "v1a" && check(sig, ts, encBase64, true)) {
					return true
				}
			}
		case formatStripe:
			var t string
			var sigs []string
			for _, el := range strings.Split(v, ",") {
				k, val, _ := strings.Cut(el, "=")
				switch k {
				case "t":
					if t != "" {
						return false
					}
					t = val
				case "v1":
					sigs = append(sigs, val)
				}
			}
			for _, sig := range sigs {
				if check(sig, t, encHex, false) {
					return true
				}
			}
		default:
			toks := []string{v}
			switch {
			case strings.ContainsAny(s.prefix, " \t"):
			case strings.Contains(s.prefix, ","):
				toks = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' })
			default:
				toks = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
			}
			for _, tok := range toks {
				if sig, ok := strings.CutPrefix(tok, s.prefix); ok && check(sig, ts, s.enc, false) {
					return true
				}
			}
		}
	}
	return false
}

// fuzzSecret picks a secret for scheme s from the fuzzer's string: itself
// for text keys, and for base64 keys a whsec_ secret derived from it unless
// it already has a known prefix.
func fuzzSecret(s *Scheme, secret string) string {
	if s.key == keyText || strings.HasPrefix(secret, "wh") {
		return secret
	}
	return "whsec_" + base64.StdEncoding.EncodeToString([]byte(secret))
}

func addFuzzSeeds(f *testing.F) {
	for _, v := range vectors {
		for i, s := range fuzzSchemes {
			if s.name == v.scheme {
				f.Add(uint8(i), v.header, []byte(v.wireBody()), v.secret)
			}
		}
	}
	for i, s := range fuzzSchemes {
		for _, p := range []string{`{"a":1.0,"b":"é"}`, "x", ""} {
			sec := fuzzSecret(s, "fuzz secret key of 24 bytes!")
			sg, err := s.Sign(Message{ID: fuzzID, Payload: []byte(p)}, sec)
			if err != nil {
				continue
			}
			f.Add(uint8(i), sg.Header.Get(s.sets[0].sig), []byte(p), sec)
		}
	}
}

// FuzzVerify checks that Verify never panics, never accepts a request the
// reference check refuses, and accepts what Sign produces.
func FuzzVerify(f *testing.F) {
	addFuzzSeeds(f)
	f.Fuzz(func(t *testing.T, which uint8, sig string, body []byte, secret string) {
		s := fuzzSchemes[int(which)%len(fuzzSchemes)]
		secret = fuzzSecret(s, secret)
		h := fuzzRequest(s, sig, fuzzID, fuzzTS)
		opts := at(t0)
		if err := s.Verify(h, body, []string{secret}, opts); err == nil && !referenceAccepts(s, h, body, secret) {
			t.Fatalf("%s accepted %q over %q, which the reference check refuses", s.name, sig, body)
		}
		sg, err := s.Sign(Message{ID: fuzzID, Timestamp: t0, Payload: body}, secret)
		if err != nil {
			return
		}
		verifyWith := secret
		if s.format == formatStandard && strings.HasPrefix(secret, PrefixSecretKey) {
			if verifyWith, err = PublicKey(secret); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Verify(sg.Header, sg.Body, []string{verifyWith}, opts); err != nil {
			t.Fatalf("%s: Verify(Sign(%q)) = %v", s.name, body, err)
		}
		if !referenceAccepts(s, sg.Header, sg.Body, verifyWith) {
			t.Fatalf("%s: the reference check refuses Sign(%q)", s.name, body)
		}
		if s.serial != serialRaw {
			if err := s.Verify(sg.Header, body, []string{verifyWith}, opts); err != nil {
				t.Fatalf("%s: Verify of the payload as produced: %v", s.name, err)
			}
		}
	})
}

// FuzzHeaders checks the header parsers, with every header the scheme
// reads under the fuzzer's control, and Diagnose and MessageID on the same
// input: no panics, and no accept the reference check refuses.
func FuzzHeaders(f *testing.F) {
	for _, v := range vectors {
		for i, s := range fuzzSchemes {
			if s.name == v.scheme {
				f.Add(uint8(i), v.header, v.id, itoa(v.ts), v.secret)
			}
		}
	}
	f.Add(uint8(5), "t=1700000000,v1=00,v0=11,t=2", "", "", "k")
	f.Add(uint8(4), "v1,abc v1a,def v2,ghi v1,", "msg", "0001700000000", "whsec_AAAA")
	f.Add(uint8(1), "sha256=ABCDEF, sha256=abcdef\tsha256=", "", "", "k")
	f.Fuzz(func(t *testing.T, which uint8, sig, id, ts, secret string) {
		s := fuzzSchemes[int(which)%len(fuzzSchemes)]
		body := []byte(`{"fuzz":true}`)
		h := fuzzRequest(s, sig, id, ts)
		if err := s.Verify(h, body, []string{secret}, at(t0)); err == nil && !referenceAccepts(s, h, body, secret) {
			t.Fatalf("%s accepted %q (id %q, ts %q), which the reference check refuses", s.name, sig, id, ts)
		}
		_ = s.MessageID(h, body)
		_ = Diagnose(h, body, []string{secret}).String()
	})
}

// FuzzCustomScheme builds custom schemes from fuzzed JSON configurations.
// Whatever Custom accepts must be a working scheme: what it signs, it
// verifies; a body changed by one byte (which changes every serialization
// the schemes sign) no longer verifies; and the configuration survives a
// JSON round trip unchanged. Whatever it refuses, it refuses with an error,
// never a panic.
func FuzzCustomScheme(f *testing.F) {
	for _, seed := range []string{
		`{"name":"acme","header":"X-Acme-Signature"}`,
		`{"name":"acme","header":"X-Acme-Signature","encoding":"base64","prefix":"sha256=","signed":"js"}`,
		`{"name":"sq","header":"X-Square-Signature","encoding":"base64","signed":"template","template":"https://example.com/hook{body}"}`,
		`{"name":"t","header":"X-Sig","signed":"template","template":"{id}.{timestamp}.{body}","id_header":"X-Id","timestamp_header":"X-Ts","tolerance":"5m"}`,
		`{"name":"p","header":"X-Sig","signed":"python-compact","encoding":"base64url","secret_encoding":"base64","tolerance":300}`,
		`{"name":"","header":"X-Sig"}`,
		`{"name":"x","header":"bad header"}`,
		`{"name":"x","header":"X-Sig","signed":"template","template":"{nope}"}`,
	} {
		f.Add([]byte(seed), []byte(`{"id":"evt_1","amount":4200,"note":"Zoë"}`))
	}
	f.Fuzz(func(t *testing.T, config, payload []byte) {
		var cfg CustomConfig
		if err := json.Unmarshal(config, &cfg); err != nil {
			return
		}
		s, err := Custom(cfg)
		if err != nil {
			if s != nil {
				t.Fatalf("Custom returned a scheme and an error: %v", err)
			}
			return
		}
		again, err := json.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal %+v: %v", cfg, err)
		}
		var back CustomConfig
		if err := json.Unmarshal(again, &back); err != nil || back != cfg {
			t.Fatalf("config round trip: %s gave %+v (%v), want %+v", again, back, err, cfg)
		}
		secret := "fuzz-secret"
		if cfg.SecretEncoding == "base64" {
			secret = base64.StdEncoding.EncodeToString([]byte("fuzz-secret-bytes"))
		}
		now := time.Unix(1_700_000_000, 0)
		signed, err := s.Sign(Message{ID: "msg_1", Timestamp: now, Payload: payload}, secret)
		if err != nil {
			return // a payload the scheme cannot serialize, or a secret it refuses
		}
		opts := &VerifyOptions{Now: func() time.Time { return now }}
		if err := s.Verify(signed.Header, signed.Body, []string{secret}, opts); err != nil {
			t.Fatalf("%s: its own signature does not verify: %v (config %s, body %q, header %v)", cfg.Name, err, config, signed.Body, signed.Header)
		}
		if len(signed.Body) > 0 {
			changed := append([]byte(nil), signed.Body...)
			changed[len(changed)/2] ^= 0x01
			if s.Verify(signed.Header, changed, []string{secret}, opts) == nil && !bytes.Equal(changed, signed.Body) {
				// A body that serializes to the same bytes may verify:
				// that is the point of the serializing schemes.
				if cfg.Signed == "" || cfg.Signed == "raw" || cfg.Signed == "template" {
					t.Fatalf("%s: a changed body verifies (config %s, body %q → %q)", cfg.Name, config, signed.Body, changed)
				}
			}
		}
	})
}
