package storetest

import (
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
)

// setSettings gives e every setting of issue 14: headers, receiver
// authentication, a client certificate, a timeout and a retry schedule.
func setSettings(e *store.Endpoint) {
	e.Headers = map[string]string{"X-Api-Key": "key-" + randomString(8), "X-Team": "billing"}
	e.Auth = &store.ReceiverAuth{Type: store.AuthOAuth2, TokenURL: "https://auth.example.com/token",
		ClientID: "client", ClientSecret: "cs-" + randomString(8), Scopes: []string{"a", "b"}, Audience: "aud"}
	e.ClientTLS = &store.ClientTLS{CertPEM: "cert", KeyPEM: "key-" + randomString(8), CAPEM: "ca"}
	e.Timeout = 2500 * time.Millisecond
	e.RetrySchedule = []time.Duration{time.Second, time.Minute, 0}
}

// testEndpointSettings: the settings round-trip, each patch field writes
// only its setting (the sealed three keep the others as stored), a
// claimed job carries them, and clearing them reads back as none.
func testEndpointSettings(h *harness) {
	e := newEndpoint("acme")
	setSettings(e)
	if err := h.s.CreateEndpoint(h.ctx, e); err != nil {
		h.Fatalf("CreateEndpoint: %v", err)
	}
	wantEndpoint(h, h.getEndpoint(e.ID), e)

	patch := func(p store.EndpointPatch) *store.Endpoint {
		h.Helper()
		p.UpdatedAt = e.UpdatedAt
		got, err := h.s.UpdateEndpoint(h.ctx, e.ID, func(*store.Endpoint) (store.EndpointPatch, error) { return p, nil })
		if err != nil {
			h.Fatalf("UpdateEndpoint: %v", err)
		}
		wantEndpoint(h, h.getEndpoint(e.ID), got)
		return got
	}
	e.Headers = map[string]string{"X-Only": "one"}
	wantEndpoint(h, patch(store.EndpointPatch{Headers: &e.Headers}), e)
	e.Auth = &store.ReceiverAuth{Type: store.AuthBasic, Username: "u", Password: "p"}
	wantEndpoint(h, patch(store.EndpointPatch{Auth: e.Auth}), e)
	e.Timeout, e.RetrySchedule = 0, nil
	wantEndpoint(h, patch(store.EndpointPatch{Timeout: new(time.Duration(0)), RetrySchedule: new([]time.Duration(nil))}), e)
	e.RetrySchedule = []time.Duration{}
	wantEndpoint(h, patch(store.EndpointPatch{RetrySchedule: &e.RetrySchedule}), e) // no retries at all

	// A claimed job carries the settings.
	h.event1("acme", "x", t0)
	jobs := h.claim(t0, 10)
	if len(jobs) != 1 {
		h.Fatalf("claimed %d jobs, want 1", len(jobs))
	}
	wantEndpoint(h, &jobs[0].Endpoint, e)

	e.Headers, e.Auth, e.ClientTLS = nil, nil, nil
	got := patch(store.EndpointPatch{Headers: new(map[string]string(nil)), Auth: &store.ReceiverAuth{}, ClientTLS: &store.ClientTLS{}})
	wantEndpoint(h, got, e)
	if store.HasSettings(got) {
		h.Fatalf("settings cleared, still has %v %v %v", got.Headers, got.Auth, got.ClientTLS)
	}
}
