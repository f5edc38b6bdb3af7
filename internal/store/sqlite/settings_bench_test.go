package sqlite_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
)

// BenchmarkGetEndpointSettings reads an endpoint without delivery
// settings and one with all of them (headers, OAuth2, a client
// certificate of about 2 KiB), sealed: what the settings column costs a
// read (the engine's claims read each endpoint once per writer cache).
func BenchmarkGetEndpointSettings(b *testing.B) {
	for _, with := range []bool{false, true} {
		name := "none"
		if with {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), &sqlite.Config{Cipher: newCipher(b)})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			now := time.Now().UTC().Truncate(time.Millisecond)
			e := &store.Endpoint{ID: store.NewID("ep"), URL: "https://example.com/hook", Scheme: "standard",
				Secrets: []store.Secret{{Value: "whsec_benchmark", CreatedAt: now}}, CreatedAt: now, UpdatedAt: now}
			if with {
				e.Headers = map[string]string{"X-Api-Key": "sk_live_0123456789abcdef", "X-Team": "billing"}
				e.Auth = &store.ReceiverAuth{Type: store.AuthOAuth2, TokenURL: "https://auth.example.com/token",
					ClientID: "hookrelay", ClientSecret: "s3cr3t-0123456789", Scopes: []string{"hooks.write"}}
				e.ClientTLS = &store.ClientTLS{CertPEM: strings.Repeat("C", 1200), KeyPEM: strings.Repeat("K", 300), CAPEM: strings.Repeat("A", 600)}
				e.Timeout, e.RetrySchedule = 5*time.Second, []time.Duration{time.Second, time.Minute}
			}
			if err := s.CreateEndpoint(context.Background(), e); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.GetEndpoint(context.Background(), e.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
