package signature_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/signature"
)

// A sender signs a payload; a receiver verifies the exact bytes it gets.
func Example() {
	scheme, err := signature.Lookup("standard")
	if err != nil {
		log.Fatal(err)
	}
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

	// Sender.
	signed, err := scheme.Sign(signature.Message{
		ID:        "msg_p5jXN8AQM9LWM0D4loKWxJek",
		Timestamp: time.Unix(1614265330, 0),
		Payload:   []byte(`{"test": 2432232314}`),
	}, secret)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(signed.Header.Get("webhook-signature"))

	// Receiver, at the time the message was sent.
	opts := &signature.VerifyOptions{Now: func() time.Time { return time.Unix(1614265330, 0) }}
	err = scheme.Verify(signed.Header, signed.Body, []string{secret}, opts)
	fmt.Println("verified:", err == nil)

	// The same request an hour later is refused.
	err = scheme.Verify(signed.Header, signed.Body, []string{secret}, &signature.VerifyOptions{
		Now: func() time.Time { return time.Unix(1614265330, 0).Add(time.Hour) },
	})
	fmt.Println(errors.Is(err, signature.ErrExpired))
	// Output:
	// v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
	// verified: true
	// true
}

func ExampleLookup() {
	s, err := signature.Lookup("svix")
	fmt.Println(s.Name(), err)
	_, err = signature.Lookup("twilio")
	fmt.Println(errors.Is(err, signature.ErrUnknownScheme))
	// Output:
	// standard <nil>
	// true
}

func ExampleNames() {
	fmt.Println(signature.Names())
	// Output: [github plextrac shopify slack standard stripe teak]
}

// GitHub's published test vector.
func ExampleScheme_Verify() {
	github, _ := signature.Lookup("github")
	h := http.Header{}
	h.Set("X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17")
	secret := "It's a Secret to Everybody"

	fmt.Println(github.Verify(h, []byte("Hello, World!"), []string{secret}, nil))
	err := github.Verify(h, []byte("Hello, World?"), []string{secret}, nil)
	fmt.Println(errors.Is(err, signature.ErrMismatch))
	fmt.Println(err)
	// Output:
	// <nil>
	// true
	// signature: github: X-Hub-Signature-256: no signature matched (1 signature(s) checked against 1 secret(s))
}

// PlexTrac signs JSON.stringify of the payload. A body that a proxy
// pretty-printed still verifies, because Verify re-serializes it the way
// JavaScript does; a body with different content does not.
func ExampleScheme_Verify_reserialized() {
	plextrac, _ := signature.Lookup("plextrac")
	h := http.Header{}
	// HMAC-SHA256 hex of {"id":1,"name":"é","amount":1} with "test_secret".
	h.Set("x-authorization-hmac-256", "2aef9beba8243ee147a8f939fffe2e274426820130d4219c37dc039c86009206")
	pretty := "{\n  \"id\": 1,\n  \"name\": \"\\u00e9\",\n  \"amount\": 1.0\n}"

	fmt.Println(plextrac.Verify(h, []byte(pretty), []string{"test_secret"}, nil))
	fmt.Println(plextrac.Verify(h, []byte(`{"id":2,"name":"é","amount":1}`), []string{"test_secret"}, nil))
	// Output:
	// <nil>
	// signature: plextrac: X-Authorization-Hmac-256: no signature matched (1 signature(s) checked against 1 secret(s))
}

// During a rotation the sender signs with both secrets and receivers
// holding either one verify. (The two MACs are Python's
// hmac.new(secret, b"1700000000." + payload, "sha256").hexdigest().)
func ExampleScheme_Sign() {
	stripe, _ := signature.Lookup("stripe")
	signed, _ := stripe.Sign(signature.Message{
		Timestamp: time.Unix(1700000000, 0),
		Payload:   []byte(`{"id":"evt_1","object":"event"}`),
	}, "whsec_new", "whsec_old")
	fmt.Println(signed.Header.Get("Stripe-Signature"))

	// PlexTrac signs JSON.stringify(payload), which is also the body to send.
	plextrac, _ := signature.Lookup("plextrac")
	signed, _ = plextrac.Sign(signature.Message{Payload: []byte(`{"b": 1.0, "a": "\u00e9"}`)}, "k")
	fmt.Printf("%s\n", signed.Body)
	// Output:
	// t=1700000000,v1=c15330950069e52feb112c7c495d04bcd2bef3e2784ee078587728d546bb99b6,v1=9119b75c4afa8bb5f71433cb34179a57aa261c58b80b417f1f537251b0cd38a8
	// {"b":1,"a":"é"}
}

func ExampleScheme_MessageID() {
	std, _ := signature.Lookup("standard")
	h := http.Header{}
	h.Set("svix-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
	fmt.Println(std.MessageID(h, nil))

	stripe, _ := signature.Lookup("stripe")
	fmt.Println(stripe.MessageID(nil, []byte(`{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event"}`)))
	// Output:
	// msg_2KWPBgLlAfxdpx2AI54pPJ85f4W
	// evt_1NG8Du2eZvKYlo2CUI79vXWy
}

// Square signs its notification URL followed by the body, base64. Its
// published test vector verifies with a custom scheme.
func ExampleCustom() {
	square, err := signature.Custom(signature.CustomConfig{
		Name:     "square",
		Header:   "x-square-hmacsha256-signature",
		Encoding: "base64",
		Signed:   "template",
		Template: "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9{body}",
	})
	if err != nil {
		log.Fatal(err)
	}
	h := http.Header{}
	h.Set("x-square-hmacsha256-signature", "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=")
	body := `{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}`
	fmt.Println(square.Verify(h, []byte(body), []string{"Ibxx_5AKakO-3qeNVR61Dw"}, nil))
	// Output: <nil>
}

func ExampleCustomConfig_MarshalJSON() {
	var cfg signature.CustomConfig
	err := cfg.UnmarshalJSON([]byte(`{"name":"acme","header":"X-Acme-Signature","prefix":"v1=",
		"signed":"template","template":"{timestamp}.{body}","timestamp_header":"X-Acme-Time","tolerance":"2m"}`))
	fmt.Println(cfg.Tolerance, err)
	j, _ := cfg.MarshalJSON()
	fmt.Println(string(j))
	// Output:
	// 2m0s <nil>
	// {"name":"acme","header":"X-Acme-Signature","prefix":"v1=","signed":"template","template":"{timestamp}.{body}","timestamp_header":"X-Acme-Time","tolerance":"2m0s"}
}

func ExampleMiddleware() {
	github, _ := signature.Lookup("github")
	hooks := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body) // the verified bytes, unchanged
		fmt.Printf("handler got %s\n", body)
	})
	srv := httptest.NewServer(signature.Middleware(github, "It's a Secret to Everybody")(hooks))
	defer srv.Close()

	for _, sig := range []string{
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
		"sha256=0000000000000000000000000000000000000000000000000000000000000000",
	} {
		req, _ := http.NewRequest("POST", srv.URL, strings.NewReader("Hello, World!"))
		req.Header.Set("X-Hub-Signature-256", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s", resp.StatusCode, msg)
	}
	// Output:
	// handler got Hello, World!
	// 200 401 signature mismatch
}

// A Verifier with a body limit, replay protection and a Reject handler that
// logs why a request was refused.
func ExampleVerifier_Handler() {
	std, _ := signature.Lookup("standard")
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	v := &signature.Verifier{
		Scheme:       std,
		Secrets:      []string{secret},
		MaxBodyBytes: 1 << 20,
		Options:      signature.VerifyOptions{Seen: &signature.MemorySeen{}},
		Reject: func(w http.ResponseWriter, r *http.Request, err error) {
			fmt.Println("rejected:", signature.Reason(err))
			http.Error(w, signature.Reason(err), http.StatusUnauthorized)
		},
	}
	h := v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("accepted", std.MessageID(r.Header, nil))
	}))

	signed, _ := std.Sign(signature.Message{ID: "msg_1", Payload: []byte(`{"a":1}`)}, secret)
	for i := 0; i < 2; i++ { // the second delivery is a verbatim replay
		req := httptest.NewRequest("POST", "/hooks", strings.NewReader(string(signed.Body)))
		req.Header = signed.Header.Clone()
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	// Output:
	// accepted msg_1
	// rejected: replayed message
}

func ExampleVerifier_Check() {
	shopify, _ := signature.Lookup("shopify")
	v := &signature.Verifier{Scheme: shopify, Secrets: []string{"hush"}}
	signed, _ := shopify.Sign(signature.Message{Payload: []byte(`{"id":1}`)}, "hush")

	req := httptest.NewRequest("POST", "/", strings.NewReader(string(signed.Body)))
	req.Header = signed.Header
	body, err := v.Check(req)
	fmt.Printf("%s %v\n", body, err)
	// Output: {"id":1} <nil>
}

func ExampleDiagnose() {
	github, _ := signature.Lookup("github")
	signed, _ := github.Sign(signature.Message{Payload: []byte(`{"zen":"Design for failure."}`)}, "s3cret")
	// The receiver's copy gained a trailing newline on the way.
	d := signature.Diagnose(signed.Header, append(signed.Body, '\n'), []string{"s3cret"})
	fmt.Print(d)
	// Output:
	// match: HMAC-SHA256 signature in X-Hub-Signature-256 after "sha256=", hex encoded
	// signed bytes: {body}
	// body: body with its trailing newline removed
	// secret: #1, used as text
	// scheme: neither a built-in nor a custom scheme verifies it as received
	// cause: the signature is a valid github signature of the body with its trailing newline removed, not of the body as received: something between sender and receiver changed the body (the sender signed the bytes it sent); pass the receiver the exact bytes sent (echo and text editors add a final newline; use printf, or curl --data-binary @file)
	// tried: 2 combination(s)
}

func ExampleGenerateSecret() {
	std, _ := signature.Lookup("standard")
	secret, _ := signature.GenerateSecret(std)
	fmt.Println(strings.HasPrefix(secret, "whsec_"), signature.ValidateSecret(std, secret))
	// Output: true <nil>
}

func ExampleGenerateKeyPair() {
	sk, pk, _ := signature.GenerateKeyPair()
	std, _ := signature.Lookup("standard")
	signed, _ := std.Sign(signature.Message{ID: "msg_1", Payload: []byte("{}")}, sk)
	fmt.Println(signed.Header.Get("webhook-signature")[:4])
	fmt.Println(std.Verify(signed.Header, signed.Body, []string{pk}, nil))
	// Output:
	// v1a,
	// <nil>
}

func ExamplePublicKey() {
	pk, err := signature.PublicKey("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
	fmt.Println(pk, err)
	// Output: whpk_ZlN4eg7dSSqi0moX9hQUk3orrOouK3QVQSlJa248c/g= <nil>
}

func ExampleValidateSecret() {
	std, _ := signature.Lookup("standard")
	fmt.Println(signature.ValidateSecret(std, "whsec_c2hvcnQ="))
	github, _ := signature.Lookup("github")
	fmt.Println(signature.ValidateSecret(github, "pasted with a newline\n"))
	// Output:
	// signature: standard secret: invalid secret: decodes to 5 bytes, want 24 to 64
	// signature: github secret: invalid secret: leading or trailing white space
}

func ExampleMemorySeen() {
	seen := &signature.MemorySeen{Max: 10000}
	until := time.Now().Add(5 * time.Minute)
	fmt.Println(seen.SeenBefore("msg_1@1700000000", until))
	fmt.Println(seen.SeenBefore("msg_1@1700000000", until))
	// Output:
	// false
	// true
}

func ExampleSecret() {
	secret := signature.Secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	fmt.Println(secret)
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	logger.Info("endpoint configured", "secret", secret)
	// Output:
	// [redacted]
	// level=INFO msg="endpoint configured" secret=[redacted]
}

func ExampleReason() {
	github, _ := signature.Lookup("github")
	err := github.Verify(http.Header{}, nil, []string{"k"}, nil)
	fmt.Println(signature.Reason(err))
	fmt.Println(err)
	// Output:
	// missing signature
	// signature: github: X-Hub-Signature-256: missing signature header
}

func ExampleScheme_Headers() {
	for _, name := range []string{"standard", "slack", "teak"} {
		s, _ := signature.Lookup(name)
		fmt.Println(s.Name(), s.Headers(), s.Tolerance())
	}
	// Output:
	// standard [webhook-id webhook-timestamp webhook-signature] 5m0s
	// slack [X-Slack-Request-Timestamp X-Slack-Signature] 5m0s
	// teak [X-Protecht-Signature] 0s
}

func ExampleError() {
	stripe, _ := signature.Lookup("stripe")
	h := http.Header{}
	h.Set("Stripe-Signature", "t=1700000000,v1=not-hex")
	err := stripe.Verify(h, []byte("{}"), []string{"whsec_test"}, nil)

	var e *signature.Error
	if errors.As(err, &e) {
		fmt.Println(e.Scheme, e.Header, errors.Is(err, signature.ErrMalformed))
		fmt.Println(e.Detail)
	}
	// Output:
	// stripe Stripe-Signature true
	// signature is not hex of 32 bytes
}
