package signature

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func TestDiagnose(t *testing.T) {
	t.Parallel()
	std := mustLookup(t, "standard")
	stdSecret := secretFor(std)
	stdH, stdBody := signedRequest(t, std, `{"a":1,"b":"é"}`, stdSecret)
	gh := mustLookup(t, "github")
	ghH, ghBody := signedRequest(t, gh, `{"a":1}`, "s3cret")
	pt := mustLookup(t, "plextrac")
	ptH, _ := signedRequest(t, pt, `{"a":1.0,"b":"é"}`, "k")
	sk, _, _ := GenerateKeyPair()
	edH, edBody := signedRequest(t, std, `{"a":1}`, sk)

	acme := http.Header{}
	acme.Set("X-Acme-Timestamp", "1700000000")
	acme.Set("X-Acme-Signature", "sha256="+hmacHex(t, "k", []byte("1700000000.payload")))
	b64key := base64.StdEncoding.EncodeToString([]byte("a binary key of 24 bytes"))
	raw, _ := base64.StdEncoding.DecodeString(b64key)
	m := hmac.New(sha1.New, []byte("k"))
	m.Write([]byte("payload"))
	sha1H := http.Header{"X-Hub-Signature": {"sha1=" + hex.EncodeToString(m.Sum(nil))}}

	tests := []struct {
		name    string
		h       http.Header
		body    string
		secrets []string
		matched bool
		scheme  string
		want    []string // substrings of the report
	}{
		{"standard", stdH, string(stdBody), []string{"wrong", stdSecret}, true, "standard",
			[]string{"{id}.{timestamp}.{body}", "secret: #2, used as base64 after whsec_", "verify --now 1700000000"}},
		{"standard re-serialized in transit", stdH, `{"a": 1, "b": "\u00e9"}`, []string{stdSecret}, true, "",
			[]string{"valid standard signature of the JSON.stringify of the body", "changed the body"}},
		{"echo added a newline", ghH, string(ghBody) + "\n", []string{"s3cret"}, true, "",
			[]string{"trailing newline removed", "valid github signature"}},
		{"plextrac pretty", ptH, "{\n  \"a\": 1.0,\n  \"b\": \"é\"\n}", []string{"k"}, true, "plextrac",
			[]string{"body: JSON.stringify of the body"}},
		{"secret with white space", ghH, string(ghBody), []string{"s3cret\n"}, true, "",
			[]string{"white space"}},
		{"custom", acme, "payload", []string{"k"}, true, "",
			[]string{`"template":"{timestamp}.{body}"`, `"timestamp_header":"X-Acme-Timestamp"`, `"prefix":"sha256="`}},
		{"base64 secret", http.Header{"X-Sig": {hex.EncodeToString(hmacRaw(raw, "payload"))}}, "payload", []string{b64key}, true, "",
			[]string{`"secret_encoding":"base64"`, "used as base64"}},
		{"sha1", sha1H, "payload", []string{"k"}, true, "",
			[]string{"HMAC-SHA1 signatures are not supported"}},
		{"v1a without a public key", edH, string(edBody), []string{stdSecret}, false, "",
			[]string{"whpk_ public key"}},
		{"v1a with the key", edH, string(edBody), []string{sk}, true, "standard", []string{"Ed25519"}},
		{"no signature header", http.Header{"Content-Type": {"application/json"}}, "{}", []string{"k"}, false, "",
			[]string{"no header holds"}},
		{"wrong secret", ghH, string(ghBody), []string{"nope"}, false, "",
			[]string{"secret is most likely wrong"}},
		{"truncated", http.Header{"X-Hub-Signature-256": {ghH.Get("X-Hub-Signature-256")[:59]}}, string(ghBody), []string{"s3cret"}, false, "",
			[]string{"truncated?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := Diagnose(tt.h, []byte(tt.body), tt.secrets)
			report := d.String()
			if d.Matched != tt.matched || d.Scheme != tt.scheme {
				t.Errorf("Matched, Scheme = %v, %q; want %v, %q\n%s", d.Matched, d.Scheme, tt.matched, tt.scheme, report)
			}
			for _, w := range tt.want {
				if !strings.Contains(report, w) {
					t.Errorf("report lacks %q:\n%s", w, report)
				}
			}
			for _, sec := range tt.secrets {
				if len(sec) > 4 && strings.Contains(report, strings.TrimSpace(sec)) {
					t.Errorf("report contains a secret:\n%s", report)
				}
			}
			if d.Tried == 0 && d.Cause == "" {
				t.Error("nothing tried and no cause")
			}
		})
	}
}

func hmacRaw(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
