package signature

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/jsoncanon"
)

var t0 = time.Unix(1700000000, 0)

func at(t time.Time) *VerifyOptions { return &VerifyOptions{Now: func() time.Time { return t }} }

func mustLookup(t testing.TB, name string) *Scheme {
	t.Helper()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// secretFor returns a valid secret for scheme s.
func secretFor(s *Scheme) string {
	if s.key == keyBase64 {
		return "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	}
	if s.name == "stripe" {
		return "whsec_test_secret"
	}
	return "a secret"
}

func TestLookup(t *testing.T) {
	t.Parallel()
	want := []string{"github", "plextrac", "shopify", "slack", "standard", "stripe", "teak"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, n := range want {
		if s := mustLookup(t, n); s.Name() != n || s.String() != n {
			t.Errorf("Lookup(%q).Name() = %q", n, s.Name())
		}
	}
	for alias, n := range map[string]string{"svix": "standard", "Standard-Webhooks": "standard", "GitHub": "github", " protecht ": "teak"} {
		if s := mustLookup(t, alias); s.Name() != n {
			t.Errorf("Lookup(%q).Name() = %q, want %q", alias, s.Name(), n)
		}
	}
	if _, err := Lookup("twilio"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("Lookup(twilio) error = %v, want ErrUnknownScheme", err)
	}
	if got := mustLookup(t, "standard").Headers(); !slices.Equal(got, []string{"webhook-id", "webhook-timestamp", "webhook-signature"}) {
		t.Errorf("standard Headers() = %v", got)
	}
	if got := mustLookup(t, "stripe").Tolerance(); got != 300*time.Second {
		t.Errorf("stripe Tolerance() = %v", got)
	}
	if _, ok := mustLookup(t, "github").Config(); ok {
		t.Error("built-in scheme has a custom Config")
	}
}

// signedRequest signs body under s at t0 and returns the headers and body.
func signedRequest(t testing.TB, s *Scheme, body string, secrets ...string) (http.Header, []byte) {
	t.Helper()
	sg, err := s.Sign(Message{ID: "msg_1", Timestamp: t0, Payload: []byte(body)}, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	return sg.Header, sg.Body
}

func TestSignVerifyAllSchemes(t *testing.T) {
	t.Parallel()
	custom := []CustomConfig{
		{Name: "hexraw", Header: "X-Sig", Prefix: "sha256="},
		{Name: "b64url", Header: "X-Sig", Encoding: "base64url", Signed: "js"},
		{Name: "py", Header: "X-Sig", Encoding: "base64", Signed: "python-compact"},
		{Name: "tmpl", Header: "X-Sig", Signed: "template", Template: "{timestamp}:{id}:{body}", IDHeader: "X-Id", TimestampHeader: "X-Ts", Tolerance: time.Minute},
		{Name: "b64secret", Header: "X-Sig", Prefix: "v1,", SecretEncoding: "base64", Signed: "template", Template: "{id}.{body}", IDHeader: "X-Id"},
	}
	var schemes []*Scheme
	for _, n := range Names() {
		schemes = append(schemes, mustLookup(t, n))
	}
	for _, c := range custom {
		s, err := Custom(c)
		if err != nil {
			t.Fatal(err)
		}
		schemes = append(schemes, s)
	}
	payload := `{"b": 1.0, "a": "é\u2028", "n": [1e21, 0.1]}` + "\n"
	for _, s := range schemes {
		t.Run(s.Name(), func(t *testing.T) {
			t.Parallel()
			sec := secretFor(s)
			h, body := signedRequest(t, s, payload, sec)
			if err := s.Verify(h, body, []string{sec}, at(t0)); err != nil {
				t.Fatalf("Verify of a fresh signature: %v", err)
			}
			// Tampered body, wrong secret.
			if err := s.Verify(h, append(body, ' ', '1'), []string{sec}, at(t0)); !errors.Is(err, ErrMismatch) {
				t.Errorf("tampered body: %v, want ErrMismatch", err)
			}
			other := secretFor(s) + "x"
			if s.key == keyBase64 {
				other = "whsec_" + base64.StdEncoding.EncodeToString([]byte("another secret of 24 bytes!!"))
			}
			if err := s.Verify(h, body, []string{other}, at(t0)); !errors.Is(err, ErrMismatch) {
				t.Errorf("wrong secret: %v, want ErrMismatch", err)
			}
			// Rotation: the right secret second.
			if err := s.Verify(h, body, []string{other, sec}, at(t0)); err != nil {
				t.Errorf("rotation, matching secret second: %v", err)
			}
			if s.timestamped() {
				if err := s.Verify(h, body, []string{sec}, at(t0.Add(s.Tolerance()+time.Second))); !errors.Is(err, ErrExpired) {
					t.Errorf("late: %v, want ErrExpired", err)
				}
			}
			switch s.serial {
			case serialRaw:
				if !bytes.Equal(body, []byte(payload)) {
					t.Errorf("Sign changed the body of a raw scheme: %q", body)
				}
			default:
				want, _ := serializeBody(s.serial, []byte(payload))
				if !bytes.Equal(body, want) {
					t.Errorf("Sign body = %q, want the %s serialization %q", body, s.serial, want)
				}
				// The payload as the producer wrote it verifies through
				// the re-serialization.
				if err := s.Verify(h, []byte(payload), []string{sec}, at(t0)); err != nil {
					t.Errorf("Verify of the producer's bytes: %v", err)
				}
			}
		})
	}
}

func TestSignRotation(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"standard", "stripe"} {
		s := mustLookup(t, name)
		newer := secretFor(s)
		older := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the previous secret, 24+ bytes"))
		h, body := signedRequest(t, s, `{"a":1}`, newer, older)
		sig := h.Get(s.sets[0].sig)
		if n := strings.Count(sig, "v1"); n != 2 {
			t.Errorf("%s: Sign with two secrets wrote %d signatures: %q", name, n, sig)
		}
		for _, sec := range []string{newer, older} {
			if err := s.Verify(h, body, []string{sec}, at(t0)); err != nil {
				t.Errorf("%s: receiver holding one of the secrets: %v", name, err)
			}
		}
	}
	// Single-signature schemes sign with the newest secret only.
	gh := mustLookup(t, "github")
	h, body := signedRequest(t, gh, "x", "new", "old")
	if err := gh.Verify(h, body, []string{"old"}, nil); !errors.Is(err, ErrMismatch) {
		t.Errorf("github signed with the old secret too: %v", err)
	}
}

func TestStandardHeaders(t *testing.T) {
	t.Parallel()
	s := mustLookup(t, "standard")
	sec := secretFor(s)
	h, body := signedRequest(t, s, `{"a":1}`, sec)
	sv := http.Header{}
	sv.Set("svix-id", h.Get("webhook-id"))
	sv.Set("svix-timestamp", h.Get("webhook-timestamp"))
	sv.Set("svix-signature", h.Get("webhook-signature"))
	if err := s.Verify(sv, body, []string{sec}, at(t0)); err != nil {
		t.Errorf("svix-* headers: %v", err)
	}
	if got := s.MessageID(sv, body); got != "msg_1" {
		t.Errorf("MessageID with svix-* headers = %q", got)
	}
	// Unknown versions are ignored, several signatures are tried.
	h.Set("webhook-signature", "v2,abc v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "+h.Get("webhook-signature")+" v1,garbage")
	if err := s.Verify(h, body, []string{sec}, at(t0)); err != nil {
		t.Errorf("mixed signature list: %v", err)
	}
	// Only unknown versions: nothing to verify.
	h.Set("webhook-signature", "v2,abc v3,def")
	if err := s.Verify(h, body, []string{sec}, at(t0)); !errors.Is(err, ErrNoSignature) {
		t.Errorf("only unknown versions: %v, want ErrNoSignature", err)
	}
}

func TestAsymmetric(t *testing.T) {
	t.Parallel()
	s := mustLookup(t, "standard")
	sk, pk, err := GenerateKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sk, "whsk_") || !strings.HasPrefix(pk, "whpk_") {
		t.Fatalf("GenerateKeyPair() = %q, %q", sk, pk)
	}
	if got, err := PublicKey(sk); err != nil || got != pk {
		t.Errorf("PublicKey(sk) = %q, %v; want %q", got, err, pk)
	}
	hmacSecret := secretFor(s)
	h, body := signedRequest(t, s, `{"a":1}`, sk, hmacSecret)
	if sig := h.Get("webhook-signature"); !strings.HasPrefix(sig, "v1a,") || !strings.Contains(sig, " v1,") {
		t.Errorf("mixed signing wrote %q", sig)
	}
	for _, sec := range []string{pk, sk, hmacSecret} {
		if err := s.Verify(h, body, []string{sec}, at(t0)); err != nil {
			t.Errorf("verify with %.5s key: %v", sec, err)
		}
	}
	_, otherPK, _ := GenerateKeyPair()
	if err := s.Verify(h, body, []string{otherPK}, at(t0)); !errors.Is(err, ErrMismatch) {
		t.Errorf("another public key: %v, want ErrMismatch", err)
	}
	if err := s.Verify(h, []byte(`{"a":2}`), []string{pk}, at(t0)); !errors.Is(err, ErrMismatch) {
		t.Errorf("tampered body: %v, want ErrMismatch", err)
	}
	// A public key cannot sign; Ed25519 keys are for Standard Webhooks only.
	if _, err := s.Sign(Message{ID: "m", Payload: []byte("x")}, pk); !errors.Is(err, ErrSecret) {
		t.Errorf("Sign with a public key: %v, want ErrSecret", err)
	}
	if err := mustLookup(t, "github").Verify(h, body, []string{pk}, nil); !errors.Is(err, ErrNoSignature) {
		t.Errorf("github with no github header: %v", err)
	}
	// Svix's 64-byte whsk_ form (seed followed by the public key) is read too.
	seed, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sk, "whsk_"))
	pub, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pk, "whpk_"))
	long := "whsk_" + base64.StdEncoding.EncodeToString(append(seed, pub...))
	if err := s.Verify(h, body, []string{long}, at(t0)); err != nil {
		t.Errorf("64-byte whsk_: %v", err)
	}
	bad := "whsk_" + base64.StdEncoding.EncodeToString(append(seed, make([]byte, 32)...))
	if err := s.Verify(h, body, []string{bad}, at(t0)); !errors.Is(err, ErrSecret) {
		t.Errorf("64-byte whsk_ with the wrong public half: %v, want ErrSecret", err)
	}
}

func TestVerifyErrors(t *testing.T) {
	t.Parallel()
	std := mustLookup(t, "standard")
	stdSecret := secretFor(std)
	stdH, stdBody := signedRequest(t, std, `{"a":1}`, stdSecret)
	stripe := mustLookup(t, "stripe")
	stH, stBody := signedRequest(t, stripe, `{"id":"evt_1"}`, "whsec_x")
	gh := mustLookup(t, "github")
	ghH, ghBody := signedRequest(t, gh, "hello", "s")
	shop := mustLookup(t, "shopify")
	shH, shBody := signedRequest(t, shop, "hello", "s")

	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	sig := stdH.Get("webhook-signature")
	ghSig := ghH.Get("X-Hub-Signature-256")
	shSig := shH.Get("X-Shopify-Hmac-Sha256")
	tests := []struct {
		name    string
		s       *Scheme
		h       http.Header
		body    []byte
		secrets []string
		now     time.Time
		want    error
	}{
		{"standard/ok", std, stdH, stdBody, []string{stdSecret}, t0, nil},
		{"standard/no-signature", std, with(stdH, "webhook-signature", ""), stdBody, []string{stdSecret}, t0, ErrNoSignature},
		{"standard/no-id", std, with(stdH, "webhook-id", ""), stdBody, []string{stdSecret}, t0, ErrNoSignature},
		{"standard/no-timestamp", std, with(stdH, "webhook-timestamp", ""), stdBody, []string{stdSecret}, t0, ErrNoSignature},
		{"standard/timestamp-not-a-number", std, with(stdH, "webhook-timestamp", "1700000000.5"), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/timestamp-signed", std, with(stdH, "webhook-timestamp", "+1700000000"), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/old", std, stdH, stdBody, []string{stdSecret}, t0.Add(5*time.Minute + time.Second), ErrExpired},
		{"standard/old-edge", std, stdH, stdBody, []string{stdSecret}, t0.Add(5 * time.Minute), nil},
		{"standard/future", std, stdH, stdBody, []string{stdSecret}, t0.Add(-5*time.Minute - time.Second), ErrExpired},
		{"standard/future-edge", std, stdH, stdBody, []string{stdSecret}, t0.Add(-5 * time.Minute), nil},
		{"standard/no-version", std, with(stdH, "webhook-signature", strings.TrimPrefix(sig, "v1,")), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/not-base64", std, with(stdH, "webhook-signature", "v1,@@@@"), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/truncated", std, with(stdH, "webhook-signature", sig[:len(sig)-8]), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/hex-instead", std, with(stdH, "webhook-signature", "v1,"+hexOfBase64(sig[3:])), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"standard/mismatch", std, stdH, []byte(`{"a":2}`), []string{stdSecret}, t0, ErrMismatch},
		{"standard/bad-secret", std, stdH, stdBody, []string{"whsec_!!!"}, t0, ErrSecret},
		{"standard/no-secrets", std, stdH, stdBody, nil, t0, ErrSecret},
		{"standard/empty-secret", std, stdH, stdBody, []string{stdSecret, ""}, t0, ErrSecret},
		{"standard/too-many", std, with(stdH, "webhook-signature", strings.Repeat(sig+" ", 20)), stdBody, []string{stdSecret}, t0, ErrMalformed},
		{"stripe/ok", stripe, stH, stBody, []string{"whsec_x"}, t0, nil},
		{"stripe/v0-ignored", stripe, with(stH, "Stripe-Signature", stH.Get("Stripe-Signature")+",v0=00"), stBody, []string{"whsec_x"}, t0, nil},
		{"stripe/no-t", stripe, with(stH, "Stripe-Signature", stH.Get("Stripe-Signature")[len("t=1700000000,"):]), stBody, []string{"whsec_x"}, t0, ErrMalformed},
		{"stripe/two-t", stripe, with(stH, "Stripe-Signature", "t=1,"+stH.Get("Stripe-Signature")), stBody, []string{"whsec_x"}, t0, ErrMalformed},
		{"stripe/no-v1", stripe, with(stH, "Stripe-Signature", "t=1700000000,v0=abcd"), stBody, []string{"whsec_x"}, t0, ErrNoSignature},
		{"stripe/old", stripe, stH, stBody, []string{"whsec_x"}, t0.Add(301 * time.Second), ErrExpired},
		{"stripe/secret-is-text", stripe, stH, stBody, []string{"x"}, t0, ErrMismatch},
		{"github/ok", gh, ghH, ghBody, []string{"s"}, t0, nil},
		{"github/upper-hex", gh, with(ghH, "X-Hub-Signature-256", "sha256="+strings.ToUpper(ghSig[7:])), ghBody, []string{"s"}, t0, nil},
		{"github/no-prefix", gh, with(ghH, "X-Hub-Signature-256", ghSig[7:]), ghBody, []string{"s"}, t0, ErrMalformed},
		{"github/sha1-header-only", gh, with(ghH, "X-Hub-Signature-256", "", "X-Hub-Signature", "sha1=0000"), ghBody, []string{"s"}, t0, ErrNoSignature},
		{"github/odd-hex", gh, with(ghH, "X-Hub-Signature-256", ghSig[:len(ghSig)-1]), ghBody, []string{"s"}, t0, ErrMalformed},
		{"github/truncated", gh, with(ghH, "X-Hub-Signature-256", ghSig[:len(ghSig)-2]), ghBody, []string{"s"}, t0, ErrMalformed},
		{"github/base64-instead", gh, with(ghH, "X-Hub-Signature-256", "sha256="+base64OfHex(ghSig[7:])), ghBody, []string{"s"}, t0, ErrMalformed},
		{"github/extra-byte", gh, with(ghH, "X-Hub-Signature-256", ghSig+"00"), ghBody, []string{"s"}, t0, ErrMalformed},
		{"github/two-in-one", gh, with(ghH, "X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64)+", "+ghSig), ghBody, []string{"s"}, t0, nil},
		{"shopify/ok", shop, shH, shBody, []string{"s"}, t0, nil},
		{"shopify/unpadded", shop, with(shH, "X-Shopify-Hmac-Sha256", strings.TrimRight(shSig, "=")), shBody, []string{"s"}, t0, nil},
		{"shopify/base64url", shop, with(shH, "X-Shopify-Hmac-Sha256", strings.NewReplacer("+", "-", "/", "_").Replace(shSig)), shBody, []string{"s"}, t0, errIfReplaced(shSig)},
		{"shopify/hex-instead", shop, with(shH, "X-Shopify-Hmac-Sha256", hexOfBase64(shSig)), shBody, []string{"s"}, t0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Verify(tt.h, tt.body, tt.secrets, at(tt.now))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			if err == nil {
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Scheme != tt.s.Name() {
				t.Errorf("error %v is not an *Error of scheme %s", err, tt.s.Name())
			}
			for _, sec := range tt.secrets {
				if len(sec) > 3 && strings.Contains(err.Error(), sec) {
					t.Errorf("error %q contains the secret", err)
				}
			}
			// The expected signature must not leak either.
			if good := tt.h.Get(tt.s.sets[0].sig); len(good) > 8 && strings.Contains(err.Error(), good[len(good)-8:]) {
				t.Errorf("error %q contains a signature", err)
			}
		})
	}
}

// errIfReplaced returns ErrMalformed if base64url differs from base64 for
// sig, and nil if the two spellings are the same.
func errIfReplaced(sig string) error {
	if strings.ContainsAny(sig, "+/") {
		return ErrMalformed
	}
	return nil
}

func hexOfBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func base64OfHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestSerializationSchemes(t *testing.T) {
	t.Parallel()
	pretty := "{\n  \"id\": 1,\n  \"name\": \"\u00e9\",\n  \"amount\": 1.0\n}\n"
	for _, name := range []string{"plextrac", "teak"} {
		s := mustLookup(t, name)
		signed, err := serializeBody(s.serial, []byte(pretty))
		if err != nil {
			t.Fatal(err)
		}
		h, _ := signedRequest(t, s, pretty, "k")
		tests := []struct {
			body string
			ok   bool
		}{
			{string(signed), true}, // the wire bytes are the signed bytes
			{pretty, true},         // re-serialized
			{strings.ReplaceAll(pretty, "\u00e9", `\u00e9`), true},
			{strings.Replace(pretty, "1.0", "2.0", 1), false}, // another document
			{"not json", false},
			{string(signed) + "x", false},
		}
		for _, tt := range tests {
			err := s.Verify(h, []byte(tt.body), []string{"k"}, nil)
			if (err == nil) != tt.ok {
				t.Errorf("%s: Verify(%q) = %v, want ok=%v", name, tt.body, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrMismatch) {
				t.Errorf("%s: Verify(%q) = %v, want ErrMismatch", name, tt.body, err)
			}
		}
		// A body that is not JSON verifies when its raw bytes were signed.
		raw := []byte("not json at all")
		m := hmacHex(t, "k", raw)
		if name == "teak" {
			m = base64OfHex(m)
		}
		rh := http.Header{}
		rh.Set(s.sets[0].sig, m)
		if err := s.Verify(rh, raw, []string{"k"}, nil); err != nil {
			t.Errorf("%s: raw non-JSON body signed as is: %v", name, err)
		}
	}
}

func TestCustomConfig(t *testing.T) {
	t.Parallel()
	bad := []CustomConfig{
		{},
		{Name: "x"},
		{Name: "github", Header: "X-Sig"},
		{Name: "a b", Header: "X-Sig"},
		{Name: "x", Header: "X Sig"},
		{Name: "x", Header: "X-Sig", Encoding: "base32"},
		{Name: "x", Header: "X-Sig", Signed: "xml"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{id}.{body}"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{timestamp}.{body}"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{body}{body}"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{ts}.{body}"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{body"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "no body"},
		{Name: "x", Header: "X-Sig", Template: "{body}"},
		{Name: "x", Header: "X-Sig", TimestampHeader: "X-Ts"},
		{Name: "x", Header: "X-Sig", Signed: "template", Template: "{timestamp}{body}", TimestampHeader: "X-Ts", Tolerance: -1},
		{Name: "x", Header: "X-Sig", SecretEncoding: "hex"},
		{Name: "x", Header: "X-Sig", Prefix: "a\nb"},
	}
	for _, c := range bad {
		if _, err := Custom(c); err == nil {
			t.Errorf("Custom(%+v) succeeded", c)
		}
	}
	good := CustomConfig{
		Name: "acme", Header: "X-Acme-Signature", Encoding: "base64", Prefix: "v1=",
		Signed: "template", Template: "{id}.{timestamp}.{body}", IDHeader: "X-Acme-Id",
		TimestampHeader: "X-Acme-Time", Tolerance: 90 * time.Second, SecretEncoding: "text",
	}
	j, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"name":"acme","header":"X-Acme-Signature","encoding":"base64","prefix":"v1=","signed":"template","template":"{id}.{timestamp}.{body}","id_header":"X-Acme-Id","timestamp_header":"X-Acme-Time","tolerance":"1m30s","secret_encoding":"text"}`
	if string(j) != wantJSON {
		t.Errorf("JSON = %s\nwant   %s", j, wantJSON)
	}
	var back CustomConfig
	if err := json.Unmarshal(j, &back); err != nil || back != good {
		t.Errorf("round trip = %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"name":"a","header":"X","tolerance":120}`), &back); err != nil || back.Tolerance != 2*time.Minute {
		t.Errorf("tolerance in seconds: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"tolerance":"soon"}`), &back); err == nil {
		t.Error("bad tolerance accepted")
	}
	s, err := Custom(good)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, ok := s.Config(); !ok || cfg != good {
		t.Errorf("Config() = %+v, %v", cfg, ok)
	}
	if s.Tolerance() != 90*time.Second {
		t.Errorf("Tolerance() = %v", s.Tolerance())
	}
	if got := s.Headers(); !slices.Equal(got, []string{"X-Acme-Id", "X-Acme-Time", "X-Acme-Signature"}) {
		t.Errorf("Headers() = %v", got)
	}
	h, body := signedRequest(t, s, "payload", "k")
	if got := h.Get("X-Acme-Signature"); !strings.HasPrefix(got, "v1=") {
		t.Errorf("signature header %q", got)
	}
	if s.MessageID(h, body) != "msg_1" {
		t.Errorf("MessageID = %q", s.MessageID(h, body))
	}
	want := hmacHex(t, "k", []byte("msg_1.1700000000.payload"))
	if got := hexOfBase64(strings.TrimPrefix(h.Get("X-Acme-Signature"), "v1=")); got != want {
		t.Errorf("custom template MAC = %s, want %s", got, want)
	}
	// Defaults: hex, raw body, default tolerance.
	d, err := Custom(CustomConfig{Name: "d", Header: "X-Sig", Signed: "template", Template: "{timestamp}|{body}", TimestampHeader: "X-Ts"})
	if err != nil || d.Tolerance() != 5*time.Minute || d.enc != encHex {
		t.Errorf("defaults: %v, %v", d, err)
	}
}

func TestMessageID(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("webhook-id", "msg_a")
	h.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	h.Set("X-Shopify-Webhook-Id", "b54557e4")
	tests := []struct {
		scheme, body, want string
	}{
		{"standard", "", "msg_a"},
		{"github", "", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{"shopify", "", "b54557e4"},
		{"stripe", `{"object":"event","data":{"id":"ch_1"},"id":"evt_1"}`, "evt_1"},
		{"stripe", `not json`, ""},
		{"slack", "", ""},
		{"plextrac", `{"id":"x"}`, ""},
	}
	for _, tt := range tests {
		if got := mustLookup(t, tt.scheme).MessageID(h, []byte(tt.body)); got != tt.want {
			t.Errorf("%s MessageID = %q, want %q", tt.scheme, got, tt.want)
		}
	}
}

func TestSignErrors(t *testing.T) {
	t.Parallel()
	std := mustLookup(t, "standard")
	sec := secretFor(std)
	for _, msg := range []Message{
		{Payload: []byte("x")},                  // no ID
		{ID: "a.b", Payload: []byte("x")},       // '.' in the ID
		{ID: "a\r\nX: y", Payload: []byte("x")}, // header injection
	} {
		if _, err := std.Sign(msg, sec); err == nil {
			t.Errorf("Sign(%q) succeeded", msg.ID)
		}
	}
	if _, err := std.Sign(Message{ID: "m"}); !errors.Is(err, ErrSecret) {
		t.Errorf("Sign without secrets: %v", err)
	}
	var se *jsoncanon.SyntaxError
	if _, err := mustLookup(t, "plextrac").Sign(Message{Payload: []byte("{")}, "k"); !errors.As(err, &se) {
		t.Errorf("Sign of a non-JSON payload under plextrac: %v, want a *jsoncanon.SyntaxError", err)
	}
	// The zero timestamp means now.
	sg, err := mustLookup(t, "slack").Sign(Message{Payload: []byte("x")}, "k")
	if err != nil {
		t.Fatal(err)
	}
	if ts := sg.Header.Get("X-Slack-Request-Timestamp"); ts == "" || ts == "0" || ts[0] == '-' {
		t.Errorf("timestamp header %q", ts)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	for _, n := range Names() {
		s := mustLookup(t, n)
		sec, err := GenerateSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := ValidateSecret(s, sec); err != nil {
			t.Errorf("%s: generated secret invalid: %v", n, err)
		}
		h, body := signedRequest(t, s, `{"a":1}`, sec)
		if err := s.Verify(h, body, []string{sec}, at(t0)); err != nil {
			t.Errorf("%s: generated secret does not verify: %v", n, err)
		}
		again, _ := GenerateSecret(s)
		if again == sec {
			t.Errorf("%s: GenerateSecret repeated itself", n)
		}
	}
	std := mustLookup(t, "standard")
	if sec, _ := GenerateSecret(std); !strings.HasPrefix(sec, "whsec_") {
		t.Errorf("standard secret %q", sec)
	}
	sk, pk, _ := GenerateKeyPair()
	tests := []struct {
		scheme, secret string
		ok             bool
	}{
		{"github", "x", true},
		{"github", "", false},
		{"github", " x", false},
		{"github", "x\n", false},
		{"standard", sk, true},
		{"standard", pk, true},
		{"standard", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 24)), true},
		{"standard", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 64)), true},
		{"standard", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 23)), false},
		{"standard", "whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 65)), false},
		{"standard", "whsec_!!!!", false},
		{"standard", "whpk_" + base64.StdEncoding.EncodeToString(make([]byte, 31)), false},
		{"standard", "whsk_AAAA", false},
		{"stripe", "whsec_anything", true},
	}
	for _, tt := range tests {
		err := ValidateSecret(mustLookup(t, tt.scheme), tt.secret)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateSecret(%s, %q) = %v, want ok=%v", tt.scheme, tt.secret, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrSecret) || (len(tt.secret) > 6 && strings.Contains(err.Error(), tt.secret[6:]))) {
			t.Errorf("ValidateSecret error %q: want ErrSecret without the secret", err)
		}
	}
	c, _ := Custom(CustomConfig{Name: "c", Header: "X-S", SecretEncoding: "base64"})
	if err := ValidateSecret(c, sk); !errors.Is(err, ErrSecret) {
		t.Errorf("Ed25519 key for a custom scheme: %v", err)
	}
	if _, err := PublicKey(pk); !errors.Is(err, ErrSecret) {
		t.Errorf("PublicKey(public key) = %v", err)
	}
}

func TestSecretRedaction(t *testing.T) {
	t.Parallel()
	s := Secret("whsec_very_secret")
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "%v %s %q %+v %#v", s, s, s, s, s)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "secret", s)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secret", s)
	if strings.Contains(buf.String(), "very_secret") {
		t.Errorf("secret leaked: %s", buf.String())
	}
	if string(s) != "whsec_very_secret" {
		t.Error("conversion to string lost the secret")
	}
}

func TestVerifyAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need a full run without the race detector")
	}
	body := append(bytes.Repeat([]byte(`[{"k":"v"},`), 100), "1"...)
	body = append(body, bytes.Repeat([]byte("]"), 100)...)
	for _, n := range []string{"standard", "stripe", "github", "shopify", "slack", "plextrac", "teak"} {
		s := mustLookup(t, n)
		sec := secretFor(s)
		h, b := signedRequest(t, s, string(body), sec, sec)
		secrets := []string{sec}
		opts := at(t0)
		if err := s.Verify(h, b, secrets, opts); err != nil {
			t.Fatal(err)
		}
		if a := testing.AllocsPerRun(100, func() { _ = s.Verify(h, b, secrets, opts) }); a != 0 {
			t.Errorf("%s: Verify allocates %v times per call", n, a)
		}
	}
}

func hmacHex(t testing.TB, secret string, msg []byte) string {
	t.Helper()
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// TestTimestampSignedAsWritten: the MAC covers the timestamp header's text
// as the sender wrote it (Slack's basestring, the Standard Webhooks
// content), so a zero-padded timestamp verifies when signed as written and
// not when signed as its number. Found by FuzzGateway in internal/inbound.
func TestTimestampSignedAsWritten(t *testing.T) {
	s := mustLookup(t, "slack")
	const secret, text = "slack-signing-secret", "01700000000"
	body := []byte(`{"type":"event_callback"}`)
	sign := func(ts string) string {
		m := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(m, "v0:%s:%s", ts, body)
		return "v0=" + hex.EncodeToString(m.Sum(nil))
	}
	now := at(time.Unix(1700000000, 0))
	for _, c := range []struct {
		signed string
		ok     bool
	}{{text, true}, {"1700000000", false}} {
		h := http.Header{}
		h.Set("X-Slack-Request-Timestamp", text)
		h.Set("X-Slack-Signature", sign(c.signed))
		err := s.Verify(h, body, []string{secret}, now)
		if (err == nil) != c.ok {
			t.Errorf("timestamp header %q, signed as %q: Verify = %v, want ok %v", text, c.signed, err, c.ok)
		}
	}
}
