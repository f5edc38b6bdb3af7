package rules_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// selfSigned returns a certificate valid from notBefore to notAfter and
// its key, PEM.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (string, string) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: notBefore, NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}))
}

// TestEndpointSettingsRefused: each setting that cannot be used is a
// field error (a 422 in the API) naming the field, never its value.
func TestEndpointSettingsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *rules.Config) { c.MaxEndpointTimeout, c.MaxRetrySchedule = 30*time.Second, time.Hour })
	now := b.clock.Now()
	cert, key := selfSigned(t, now.Add(-time.Hour), now.Add(time.Hour))
	oldCert, oldKey := selfSigned(t, now.Add(-2*time.Hour), now.Add(-time.Hour))
	_, otherKey := selfSigned(t, now.Add(-time.Hour), now.Add(time.Hour))
	many := map[string]string{}
	for i := range rules.MaxHeaders + 1 {
		many[strings.Repeat("x", i+1)] = "v"
	}
	tests := []struct {
		name string
		spec rules.EndpointSpec
		want []string
	}{
		{"ok", rules.EndpointSpec{
			Headers:       map[string]string{"X-Api-Key": "k", "Authorization": "Token x"},
			ClientTLS:     &store.ClientTLS{CertPEM: cert, KeyPEM: key, CAPEM: cert},
			Timeout:       30 * time.Second,
			RetrySchedule: []time.Duration{time.Minute, 59 * time.Minute},
		}, nil},
		{"host", rules.EndpointSpec{Headers: map[string]string{"host": "x"}}, []string{"headers[host]"}},
		{"hop-by-hop", rules.EndpointSpec{Headers: map[string]string{"Connection": "x", "Transfer-Encoding": "x", "Content-Length": "1", "Content-Type": "x"}},
			[]string{"headers[Connection]", "headers[Content-Length]", "headers[Content-Type]", "headers[Transfer-Encoding]"}},
		{"scheme's own", rules.EndpointSpec{Scheme: "standard", Headers: map[string]string{"webhook-signature": "x", "Webhook-Id": "x", "webhook-timestamp": "1"}},
			[]string{"headers[Webhook-Id]", "headers[webhook-signature]", "headers[webhook-timestamp]"}},
		{"github's own", rules.EndpointSpec{Scheme: "github", Headers: map[string]string{"X-Hub-Signature-256": "x"}}, []string{"headers[X-Hub-Signature-256]"}},
		{"bad name", rules.EndpointSpec{Headers: map[string]string{"X Bad": "x"}}, []string{"headers"}},
		{"bad value", rules.EndpointSpec{Headers: map[string]string{"X-A": "a\r\nX-Evil: 1"}}, []string{"headers[X-A]"}},
		{"too many", rules.EndpointSpec{Headers: many}, []string{"headers"}},
		{"too long", rules.EndpointSpec{Headers: map[string]string{"X-A": strings.Repeat("a", rules.MaxHeaderValueLen+1)}}, []string{"headers[X-A]"}},
		{"authorization with auth", rules.EndpointSpec{Headers: map[string]string{"Authorization": "x"},
			Auth: &store.ReceiverAuth{Type: "bearer", Token: "t"}}, []string{"headers[Authorization]"}},
		{"auth type", rules.EndpointSpec{Auth: &store.ReceiverAuth{Type: "digest"}}, []string{"auth.type"}},
		{"basic", rules.EndpointSpec{Auth: &store.ReceiverAuth{Type: "basic", Username: "a:b", Token: "t"}},
			[]string{"auth.password", "auth.token", "auth.username"}},
		{"bearer", rules.EndpointSpec{Auth: &store.ReceiverAuth{Type: "bearer", Token: "a b"}}, []string{"auth.token"}},
		{"oauth2", rules.EndpointSpec{Auth: &store.ReceiverAuth{Type: "oauth2", TokenURL: "https://auth.example/token"}},
			[]string{"auth.client_id", "auth.client_secret"}},
		{"oauth2 url", rules.EndpointSpec{Auth: &store.ReceiverAuth{Type: "oauth2", TokenURL: "ftp://x", ClientID: "a", ClientSecret: "b"}},
			[]string{"auth.token_url"}},
		{"tls pair", rules.EndpointSpec{ClientTLS: &store.ClientTLS{CertPEM: cert, KeyPEM: otherKey}}, []string{"client_tls.key_pem"}},
		{"tls expired", rules.EndpointSpec{ClientTLS: &store.ClientTLS{CertPEM: oldCert, KeyPEM: oldKey}}, []string{"client_tls.cert_pem"}},
		{"tls not pem", rules.EndpointSpec{ClientTLS: &store.ClientTLS{CertPEM: "junk", KeyPEM: key, CAPEM: "junk"}},
			[]string{"client_tls.cert_pem", "client_tls.ca_pem"}},
		{"tls no key", rules.EndpointSpec{ClientTLS: &store.ClientTLS{CertPEM: cert}}, []string{"client_tls.key_pem"}},
		{"tls on http", rules.EndpointSpec{URL: "http://127.0.0.1:9/hook", ClientTLS: &store.ClientTLS{CertPEM: cert, KeyPEM: key}}, []string{"client_tls"}},
		{"timeout", rules.EndpointSpec{Timeout: 31 * time.Second}, []string{"timeout_seconds"}},
		{"short timeout", rules.EndpointSpec{Timeout: time.Millisecond}, []string{"timeout_seconds"}},
		{"schedule span", rules.EndpointSpec{RetrySchedule: []time.Duration{time.Hour, time.Second}}, []string{"retry_schedule_seconds"}},
		{"schedule negative", rules.EndpointSpec{RetrySchedule: []time.Duration{-time.Second}}, []string{"retry_schedule_seconds"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			spec := tc.spec
			if spec.URL == "" {
				spec.URL = "https://127.0.0.1:9/hook"
			}
			_, _, err := b.rules.CreateEndpoint(context.Background(), spec)
			got := fields(err)
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("fields %v, want %v (%v)", got, want, err)
			}
			for _, f := range rules.Fields(err) {
				for _, v := range []string{key, otherKey, "a\r\nX-Evil"} {
					if strings.Contains(f.Reason, v) {
						t.Errorf("%s: the reason holds a secret", f.Field)
					}
				}
			}
		})
	}
}

// TestUpdateEndpointSettings: a change of one setting keeps the others,
// and a change of the scheme alone is checked against the stored headers.
func TestUpdateEndpointSettings(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	e := b.endpoint(t, rules.EndpointSpec{Scheme: "standard", Headers: map[string]string{"X-Hub-Signature-256": "x"},
		Auth: &store.ReceiverAuth{Type: "basic", Username: "u", Password: "p"}})
	got, _, err := b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Timeout: new(5 * time.Second)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Timeout != 5*time.Second || got.Auth == nil || got.Auth.Password != "p" || got.Headers["X-Hub-Signature-256"] != "x" {
		t.Fatalf("after a timeout change: %v %v %v", got.Timeout, got.Auth, got.Headers)
	}
	_, _, err = b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Scheme: new("github")}, nil)
	if f := fields(err); !slices.Equal(f, []string{"headers[X-Hub-Signature-256]"}) {
		t.Fatalf("scheme switch to github with its header set: fields %v (%v)", f, err)
	}
	got, _, err = b.rules.UpdateEndpoint(ctx, e.ID, rules.EndpointChange{Auth: &store.ReceiverAuth{}, Headers: new(map[string]string{})}, nil)
	if err != nil || got.Auth != nil || got.Headers != nil || got.Timeout != 5*time.Second {
		t.Fatalf("cleared: %v %v %v, %v", got.Auth, got.Headers, got.Timeout, err)
	}
}

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "", "short": "****", "sk_live_1234567890": "****7890"} {
		if got := rules.MaskSecret(in); got != want {
			t.Errorf("MaskSecret(%q) = %q, want %q", in, got, want)
		}
	}
}
