package inbound

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// fuzzSecret signs every fuzzed source.
const fuzzSecret = "fuzz-secret-5d41402abc4b2a76b9719d911017c592"

// fuzzNow is the gateway's clock in FuzzGateway.
var fuzzNow = time.Unix(1_800_000_000, 0)

// fuzzSchemes are the schemes FuzzGateway drives: those that sign the raw
// body, so that a plain HMAC is an independent oracle.
var fuzzSchemes = []string{"github", "shopify", "slack", "stripe"}

func mac(msg string) []byte {
	m := hmac.New(sha256.New, []byte(fuzzSecret))
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// fuzzRequest builds the request FuzzGateway sends for scheme i.
func fuzzRequest(i uint8, body []byte, sig, ts string) (name string, r *http.Request) {
	name = fuzzSchemes[int(i)%len(fuzzSchemes)]
	r = httptest.NewRequest("POST", "/in/"+name, bytes.NewReader(body))
	r.SetPathValue("source", name)
	r.Header.Set("Content-Type", "application/json")
	switch name {
	case "github":
		r.Header.Set("X-Hub-Signature-256", sig)
	case "shopify":
		r.Header.Set("X-Shopify-Hmac-Sha256", sig)
	case "slack":
		r.Header.Set("X-Slack-Signature", sig)
		r.Header.Set("X-Slack-Request-Timestamp", ts)
	case "stripe":
		r.Header.Set("Stripe-Signature", sig)
	}
	return name, r
}

var stripeTS = regexp.MustCompile(`t=([^,]*)`)

// carriesMAC is the oracle: whether sig holds, in the scheme's encoding,
// the HMAC of what the scheme signs. A gateway that accepts a request
// without it has been fooled.
func carriesMAC(name string, body []byte, sig, ts string) bool {
	lower := strings.ToLower(sig)
	switch name {
	case "github":
		return strings.Contains(lower, hex.EncodeToString(mac(string(body))))
	case "shopify":
		return strings.Contains(sig, base64.StdEncoding.EncodeToString(mac(string(body))))
	case "slack":
		return strings.Contains(lower, hex.EncodeToString(mac("v0:"+ts+":"+string(body))))
	case "stripe":
		for _, m := range stripeTS.FindAllStringSubmatch(sig, -1) {
			if strings.Contains(lower, hex.EncodeToString(mac(m[1]+"."+string(body)))) {
				return true
			}
		}
	}
	return false
}

// FuzzGateway posts fuzzed bodies and signature headers to sources of
// the raw-body schemes and checks that the gateway never panics, answers
// only with the statuses it documents, and accepts (2xx) only a request
// that carries the real HMAC, by an independent check. The seed corpus
// (valid requests for each scheme, and near misses) is below and in
// testdata/fuzz/FuzzGateway.
func FuzzGateway(f *testing.F) {
	ts := strconv.FormatInt(fuzzNow.Unix(), 10)
	body := []byte(`{"id":"evt_1","type":"invoice.paid","data":{"amount":4200}}`)
	f.Add(uint8(0), body, "sha256="+hex.EncodeToString(mac(string(body))), "")
	f.Add(uint8(1), body, base64.StdEncoding.EncodeToString(mac(string(body))), "")
	f.Add(uint8(2), body, "v0="+hex.EncodeToString(mac("v0:"+ts+":"+string(body))), ts)
	f.Add(uint8(3), body, "t="+ts+",v1="+hex.EncodeToString(mac(ts+"."+string(body))), "")
	f.Add(uint8(2), []byte(`{"type":"url_verification","challenge":"abc"}`),
		"v0="+hex.EncodeToString(mac("v0:"+ts+`:{"type":"url_verification","challenge":"abc"}`)), ts)
	f.Add(uint8(0), body, "sha256="+strings.ToUpper(hex.EncodeToString(mac(string(body)))), "")
	f.Add(uint8(0), body, "sha256=", "")
	f.Add(uint8(3), body, "t=,v1=,v1=00", "")
	f.Add(uint8(2), []byte{}, "v0=", "-1")
	f.Add(uint8(1), []byte("\xff\xfe not json"), "====", "")

	st := openStore(f)
	now := time.Now()
	for _, name := range fuzzSchemes {
		src := &store.Source{ID: store.NewID("src"), Name: name, Scheme: name, DedupeWindow: time.Hour,
			Secrets: []store.Secret{{Value: fuzzSecret, CreatedAt: now}}, CreatedAt: now, UpdatedAt: now,
			SlackChallenge: name == "slack"}
		if err := st.CreateSource(f.Context(), src, nil); err != nil {
			f.Fatal(err)
		}
	}
	g, err := New(Config{Store: st, Now: func() time.Time { return fuzzNow }, MaxBodyBytes: 4 << 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, i uint8, body []byte, sig, ts string) {
		name, r := fuzzRequest(i, body, sig, ts)
		w := httptest.NewRecorder()
		g.ServeHTTP(w, r)
		switch code := w.Code; code {
		case http.StatusOK, http.StatusAccepted:
			if !carriesMAC(name, body, sig, ts) {
				t.Fatalf("%s: accepted (%d) without the HMAC: body %q, signature %q, timestamp %q", name, code, body, sig, ts)
			}
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("%s: status %d %q", name, code, w.Body.String())
		}
	})
}
