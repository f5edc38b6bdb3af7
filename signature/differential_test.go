package signature

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Differential tests against reference signers and verifiers written
// independently in Node.js (node:crypto, JSON.stringify) and Python (hmac,
// json.dumps) from the vendors' documentation: testdata/reference/ref.js
// and ref.py.

// diffPayloads are payloads as an event producer might write them.
var diffPayloads = []string{
	`{"test": 2432232314}`,
	"{\n  \"event\": \"finding.created\",\n  \"score\": 0.0,\n  \"title\": \"Stored XSS <script>&amp;\",\n  \"tags\": [\"é\", \"日本\", \"😀\"]\n}\n",
	`{"a":1.0,"b":-0,"c":1e21,"d":1E-7,"e":123456789012345678901234567890,"f":9007199254740993,"g":0.1}`,
	`{"sep":"` + "\u2028\u2029" + `","esc":"\u001B\u001f\"\\\/","lone":"\ud800","del":"` + "\x7f" + `"}`,
	`{"dup":1,"x":2,"dup":3,"2":"index","1":"first"}`,
	`[]`,
	`"just a string"`,
	`{"nested":{"deep":[[[{"k":null}]]]},"t":true,"f":false}`,
	`{"id":"evt_1","object":"event","amount":1999}`,
}

// refTool returns the path of an oracle program, skipping the test when it
// is missing, except in CI, where it must be there.
func refTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed: %v", name, err)
	}
	return p
}

type refJob map[string]any

type refResult struct {
	Headers map[string]string `json:"headers"`
	BodyB64 string            `json:"body_b64"`
	OK      bool              `json:"ok"`
	Skip    bool              `json:"skip"`
}

func (r refResult) header() http.Header {
	h := http.Header{}
	for k, v := range r.Headers {
		h.Set(k, v)
	}
	return h
}

func (r refResult) body(t testing.TB) []byte {
	b, err := base64.StdEncoding.DecodeString(r.BodyB64)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runRef runs jobs through testdata/reference/ref.js ("node") or ref.py
// ("python3").
func runRef(t testing.TB, tool string, jobs []refJob) []refResult {
	t.Helper()
	script := map[string]string{"node": "ref.js", "python3": "ref.py"}[tool]
	in, err := json.Marshal(jobs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(refTool(t, tool), filepath.Join("testdata", "reference", script))
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, script, err, stderr.Bytes())
	}
	var res []refResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("%s %s: bad output %q: %v", tool, script, out, err)
	}
	return res
}

const diffTS = 1700000000

// diffSecrets are the secrets the differential tests sign with.
var diffSecrets = map[string]string{
	"standard": "whsec_" + base64.StdEncoding.EncodeToString([]byte("differential-test-key-32-bytes!!")),
	"v1a":      "whsk_" + base64.StdEncoding.EncodeToString([]byte("differential-ed25519-seed-32-byt")),
	"stripe":   "whsec_stripe_like_secret_used_as_text",
}

func diffSecret(scheme string) string {
	if s, ok := diffSecrets[scheme]; ok {
		return s
	}
	return "s3cret-" + scheme
}

// wrongEncoding rewrites the signature in h from the scheme's encoding to
// another one (hex to base64, base64 to hex).
func wrongEncoding(t testing.TB, s *Scheme, h http.Header) http.Header {
	h = h.Clone()
	name := s.sets[0].sig
	v := h.Get(name)
	i := strings.LastIndexAny(v, ",=")
	if s.enc != encHex {
		i = strings.IndexAny(v, ",")
	}
	prefix, sig := v[:i+1], v[i+1:]
	if s.enc == encHex {
		b, err := hex.DecodeString(sig)
		if err != nil {
			t.Fatalf("%s: %q is not hex", s.name, sig)
		}
		h.Set(name, prefix+base64.StdEncoding.EncodeToString(b))
	} else {
		b, err := base64.StdEncoding.DecodeString(sig)
		if err != nil {
			t.Fatalf("%s: %q is not base64", s.name, sig)
		}
		h.Set(name, prefix+hex.EncodeToString(b))
	}
	return h
}

func TestDifferentialReferenceSigners(t *testing.T) {
	t.Parallel()
	signers := map[string][]string{
		"node":    {"standard", "v1a", "github", "stripe", "shopify", "slack", "plextrac"},
		"python3": {"standard", "v1a", "github", "stripe", "shopify", "slack", "teak"},
	}
	for tool, schemes := range signers {
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			var jobs []refJob
			for _, name := range schemes {
				scheme := strings.Replace(name, "v1a", "standard", 1)
				for _, p := range diffPayloads {
					jobs = append(jobs, refJob{"op": "sign", "scheme": scheme, "secret": diffSecret(name),
						"payload_b64": base64.StdEncoding.EncodeToString([]byte(p)), "id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", "ts": diffTS})
				}
			}
			res := runRef(t, tool, jobs)
			for i, r := range res {
				if r.Skip {
					continue
				}
				j := jobs[i]
				s := mustLookup(t, j["scheme"].(string))
				secret := j["secret"].(string)
				if strings.HasPrefix(secret, "whsk_") {
					secret, _ = PublicKey(secret)
				}
				payload, _ := base64.StdEncoding.DecodeString(j["payload_b64"].(string))
				h, body := r.header(), r.body(t)
				name := fmt.Sprintf("%s %s %q", tool, s.name, payload)
				opts := at(time.Unix(diffTS, 0))
				if err := s.Verify(h, body, []string{secret}, opts); err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				if s.serial != serialRaw {
					// The producer's own bytes, before the sender re-serialized them.
					if err := s.Verify(h, payload, []string{secret}, opts); err != nil {
						t.Errorf("%s, producer's bytes: %v", name, err)
					}
				}
				wrong := secret + "x"
				if s.key == keyBase64 {
					wrong = diffSecrets["standard"][:20] + "AAAA" + diffSecrets["standard"][24:]
					if strings.HasPrefix(secret, "whpk_") {
						_, wrong, _ = GenerateKeyPair()
					}
				}
				trunc := h.Clone()
				trunc.Set(s.sets[0].sig, strings.TrimRight(h.Get(s.sets[0].sig), "=")[:len(strings.TrimRight(h.Get(s.sets[0].sig), "="))-2])
				for what, c := range map[string]struct {
					h      http.Header
					body   []byte
					secret string
				}{
					"tampered body":  {h, append(append([]byte("["), body...), ']'), secret},
					"wrong secret":   {h, body, wrong},
					"wrong encoding": {wrongEncoding(t, s, h), body, secret},
					"truncated":      {trunc, body, secret},
				} {
					if err := s.Verify(c.h, c.body, []string{c.secret}, opts); err == nil {
						t.Errorf("%s: %s accepted", name, what)
					} else if errors.Is(err, ErrSecret) {
						t.Errorf("%s: %s: %v", name, what, err)
					}
				}
			}
		})
	}
}

func TestDifferentialReferenceVerifiers(t *testing.T) {
	t.Parallel()
	verifiers := map[string][]string{
		"node":    {"standard", "v1a", "github", "stripe", "shopify", "slack", "plextrac"},
		"python3": {"standard", "v1a", "github", "stripe", "shopify", "slack", "teak"},
	}
	for tool, schemes := range verifiers {
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			var jobs []refJob
			var want []bool
			for _, name := range schemes {
				s := mustLookup(t, strings.Replace(name, "v1a", "standard", 1))
				secrets := []string{diffSecret(name)}
				verifyWith := secrets[0]
				if name == "v1a" {
					verifyWith, _ = PublicKey(secrets[0])
				}
				if name == "standard" || name == "stripe" {
					// A rotation: the receiver still holds the older secret.
					newer := "whsec_" + base64.StdEncoding.EncodeToString([]byte("the newer differential key, 32 b"))
					secrets = []string{newer, diffSecret(name)}
				}
				for _, p := range diffPayloads {
					sg, err := s.Sign(Message{ID: "msg_1", Timestamp: time.Unix(diffTS, 0), Payload: []byte(p)}, secrets...)
					if err != nil {
						t.Fatal(err)
					}
					hm := map[string]string{}
					for k := range sg.Header {
						hm[k] = sg.Header.Get(k)
					}
					for _, tamper := range []bool{false, true} {
						body := sg.Body
						if tamper {
							body = append(append([]byte("["), body...), ']')
						}
						jobs = append(jobs, refJob{"op": "verify", "scheme": s.name, "secret": verifyWith,
							"headers": hm, "body_b64": base64.StdEncoding.EncodeToString(body), "now": diffTS})
						want = append(want, !tamper)
					}
				}
			}
			for i, r := range runRef(t, tool, jobs) {
				if r.Skip {
					continue
				}
				if r.OK != want[i] {
					body, _ := base64.StdEncoding.DecodeString(jobs[i]["body_b64"].(string))
					t.Errorf("%s verify %s %q = %v, want %v (headers %v)", tool, jobs[i]["scheme"], body, r.OK, want[i], jobs[i]["headers"])
				}
			}
		})
	}
}

// TestPlexTracPythonRecipe shows that the Python receiver in PlexTrac's
// documentation (json.dumps with separators=(',', ':') and ensure_ascii left
// on) rejects genuine PlexTrac signatures, made by Node's JSON.stringify,
// whenever the payload holds a non-ASCII character, while this package
// verifies them.
func TestPlexTracPythonRecipe(t *testing.T) {
	t.Parallel()
	payloads := []struct {
		payload    string
		recipeOK   bool
		whyFailing string
	}{
		{`{"event":"finding.created","title":"SQL injection","severity":"High"}`, true, ""},
		{`{"event":"finding.created","title":"Injection SQL dans le paramètre « id »"}`, false, "non-ASCII"},
		{`{"client":"Müller GmbH","emoji":"🔥"}`, false, "non-ASCII"},
	}
	var jobs []refJob
	for _, p := range payloads {
		jobs = append(jobs, refJob{"op": "sign", "scheme": "plextrac", "secret": "plextrac-secret",
			"payload_b64": base64.StdEncoding.EncodeToString([]byte(p.payload))})
	}
	signed := runRef(t, "node", jobs)
	jobs = jobs[:0]
	for _, r := range signed {
		jobs = append(jobs, refJob{"op": "plextrac-recipe", "secret": "plextrac-secret", "headers": r.Headers, "body_b64": r.BodyB64})
	}
	recipe := runRef(t, "python3", jobs)
	s := mustLookup(t, "plextrac")
	for i, p := range payloads {
		if recipe[i].OK != p.recipeOK {
			t.Errorf("PlexTrac's Python recipe on %q = %v, want %v", p.payload, recipe[i].OK, p.recipeOK)
		}
		if err := s.Verify(signed[i].header(), signed[i].body(t), []string{"plextrac-secret"}, nil); err != nil {
			t.Errorf("Verify of Node-signed %q: %v", p.payload, err)
		}
	}
}
