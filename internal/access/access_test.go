package access

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func ptr(s string) *string { return &s }

func TestParse(t *testing.T) {
	t.Parallel()
	got, err := Parse(nil)
	if err != nil || len(got) != 1 || got[0] != Admin {
		t.Errorf("Parse(nil) = %v, %v; want [admin]", got, err)
	}
	got, err = Parse([]string{"keys:write", "endpoints:read", "keys:write"})
	if err != nil || strings.Join(Names(got), ",") != "endpoints:read,keys:write" {
		t.Errorf("Parse = %v, %v", got, err)
	}
	if _, err := Parse([]string{"endpoints:*"}); !errors.Is(err, ErrInvalidScope) {
		t.Errorf("Parse(endpoints:*) = %v, want ErrInvalidScope", err)
	}
}

func TestKeyPrincipal(t *testing.T) {
	t.Parallel()
	p := KeyPrincipal("key_1", ptr("acme"), []string{"endpoints:read", "endpoints:*", "admin2"})
	if p.KeyID != "key_1" || *p.Tenant != "acme" || strings.Join(Names(p.Scopes), ",") != "endpoints:read" {
		t.Errorf("KeyPrincipal = %+v; want key_1 of acme with endpoints:read only", p)
	}
	if !KeyPrincipal("key_2", nil, []string{"admin"}).IsAdmin() {
		t.Error("an admin key of every tenant is not IsAdmin")
	}
	if KeyPrincipal("key_3", ptr("acme"), []string{"admin"}).IsAdmin() {
		t.Error("an admin key of one tenant is IsAdmin")
	}
}

func TestPrincipal(t *testing.T) {
	t.Parallel()
	admin := &Principal{Scopes: []Scope{Admin}}
	acme := &Principal{Tenant: ptr("acme"), Scopes: []Scope{EndpointsRead, KeysWrite}}
	tests := []struct {
		name   string
		err    error
		reason error
		scope  Scope
	}{
		{"admin has every scope", admin.Allow(SourcesWrite), nil, ""},
		{"missing scope", acme.Allow(EndpointsWrite), ErrMissingScope, EndpointsWrite},
		{"held scope", acme.Allow(EndpointsRead), nil, ""},
		{"tenant admin cannot reach sources", (&Principal{Tenant: ptr("acme"), Scopes: []Scope{Admin}}).Allow(SourcesRead), ErrNoTenantScope, ""},
		{"mint a subset", acme.CanMint(ptr("acme"), []Scope{EndpointsRead}), nil, ""},
		{"mint more", acme.CanMint(ptr("acme"), []Scope{EndpointsWrite}), ErrMissingScope, EndpointsWrite},
		{"mint admin", acme.CanMint(ptr("acme"), []Scope{Admin}), ErrMissingScope, Admin},
		{"mint another tenant", acme.CanMint(ptr("globex"), []Scope{EndpointsRead}), ErrOtherTenant, ""},
		{"mint every tenant", acme.CanMint(nil, []Scope{EndpointsRead}), ErrOtherTenant, ""},
		{"admin mints anything", admin.CanMint(nil, []Scope{Admin}), nil, ""},
		{"mint without keys:write", (&Principal{Scopes: []Scope{EndpointsRead}}).CanMint(nil, []Scope{EndpointsRead}), ErrMissingScope, KeysWrite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.reason) || (tc.reason == nil) != (tc.err == nil) {
				t.Fatalf("err = %v, want %v", tc.err, tc.reason)
			}
			if d, ok := errors.AsType[*Denied](tc.err); ok && d.Scope != tc.scope {
				t.Errorf("scope = %q, want %q", d.Scope, tc.scope)
			}
		})
	}
	if got, err := acme.TenantOf(nil); got != "acme" || err != nil {
		t.Errorf("TenantOf(nil) = %q, %v; want acme", got, err)
	}
	if _, err := acme.TenantOf(ptr("globex")); !errors.Is(err, ErrOtherTenant) {
		t.Errorf("TenantOf(globex) = %v", err)
	}
	if got, err := admin.TenantOf(ptr("globex")); got != "globex" || err != nil {
		t.Errorf("admin TenantOf(globex) = %q, %v", got, err)
	}
	if f, ok := acme.Filter(ptr("globex")); ok || f != nil {
		t.Errorf("Filter(globex) = %v, %v; want nothing", f, ok)
	}
	if f, ok := acme.Filter(nil); !ok || *f != "acme" {
		t.Errorf("Filter(nil) = %v, %v; want acme", f, ok)
	}
}

func TestTokens(t *testing.T) {
	t.Parallel()
	if _, err := NewTokens(make([]byte, 31)); err == nil {
		t.Error("NewTokens took a 31-byte key")
	}
	tk, err := NewTokens(DeriveTokenKey([]byte("a server secret")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c := TokenClaims{KeyID: "key_1", Tenant: "acme", Scopes: []Scope{EndpointsRead}, Expires: now.Add(time.Minute)}
	s, err := tk.Mint(c)
	if err != nil || !IsToken(s) {
		t.Fatalf("Mint = %q, %v", s, err)
	}
	got, err := tk.Open(s, now)
	if err != nil || got.KeyID != "key_1" || got.Tenant != "acme" || len(got.Scopes) != 1 || !got.Expires.Equal(c.Expires) {
		t.Fatalf("Open = %+v, %v", got, err)
	}
	if _, err := tk.Open(s, now.Add(time.Minute)); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("Open at expiry = %v, want ErrTokenExpired", err)
	}
	other, _ := NewTokens(DeriveTokenKey([]byte("another secret")))
	if _, err := other.Open(s, now); !errors.Is(err, ErrBadToken) {
		t.Errorf("Open with another key = %v, want ErrBadToken", err)
	}
	for _, bad := range []string{"", "hr_x", TokenPrefix, TokenPrefix + "abc", s[:len(s)-2], s + "A", strings.Replace(s, ".", "x.", 1)} {
		if _, err := tk.Open(bad, now); !errors.Is(err, ErrBadToken) {
			t.Errorf("Open(%q) = %v, want ErrBadToken", bad, err)
		}
	}
}

func BenchmarkTokenOpen(b *testing.B) {
	tk, _ := NewTokens(DeriveTokenKey([]byte("a server secret")))
	now := time.Unix(1_800_000_000, 0)
	s, _ := tk.Mint(TokenClaims{KeyID: "key_1", Tenant: "acme", Scopes: PortalScopes, Expires: now.Add(time.Hour)})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tk.Open(s, now); err != nil {
			b.Fatal(err)
		}
	}
}
