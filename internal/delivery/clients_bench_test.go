package delivery

import (
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

func BenchmarkClientsGetMTLS(b *testing.B) {
	pki := newPKI(b)
	c := newClients(ClientConfig{})
	ep := &store.Endpoint{ID: "ep_1", ClientTLS: &store.ClientTLS{CertPEM: pki.clientCert, KeyPEM: pki.clientK, CAPEM: pki.caPEM}}
	c.get(ep)
	b.ReportAllocs()
	for b.Loop() {
		// a fresh copy each time, as an endpoint loaded from the store is
		ep2 := *ep
		t := store.ClientTLS{CertPEM: strings.Clone(pki.clientCert), KeyPEM: pki.clientK, CAPEM: pki.caPEM}
		ep2.ClientTLS = &t
		if _, err := c.get(&ep2); err != nil {
			b.Fatal(err)
		}
	}
}
func BenchmarkClientsGetPlain(b *testing.B) {
	c := newClients(ClientConfig{})
	ep := &store.Endpoint{ID: "ep_1"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.get(ep)
		}
	})
}
