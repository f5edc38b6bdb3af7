package api

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// recordingMinter records what it was asked to mint.
type recordingMinter struct {
	tenant string
	ttl    time.Duration
}

func (m *recordingMinter) MintPortalLink(tenant string, ttl time.Duration) (string, error) {
	if ttl > 7*24*time.Hour {
		return "", errors.New("ttl longer than 7 days")
	}
	m.tenant, m.ttl = tenant, ttl
	return "/ui/portal/token-for-" + tenant, nil
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	m := &recordingMinter{}
	tb := setup(t, func(c *Config) { c.PortalLinks = m })

	var got portalLinkJSON
	must(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme"}), http.StatusCreated).json(t, &got)
	if got.Path != "/ui/portal/token-for-acme" || got.Tenant != "acme" || m.ttl != DefaultPortalLinkTTL {
		t.Errorf("got %+v, minted for %q with ttl %v", got, m.tenant, m.ttl)
	}
	if want := tb.clock.Now().Add(DefaultPortalLinkTTL); !got.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %v, want %v", got.ExpiresAt, want)
	}
	must(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme", "ttl_seconds": 60}), http.StatusCreated)
	if m.ttl != time.Minute {
		t.Errorf("ttl = %v, want 1m", m.ttl)
	}

	wantError(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{}), http.StatusUnprocessableEntity, CodeValidation, "tenant")
	wantError(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme", "ttl_seconds": -1}), http.StatusUnprocessableEntity, CodeValidation)
	wantError(t, tb.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme", "ttl_seconds": 8 * 24 * 3600}), http.StatusUnprocessableEntity, CodeValidation, "7 days")
	if r := tb.doKey(t, "hr_wrong_key_123", "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme"}); r.status != http.StatusUnauthorized {
		t.Errorf("without a valid key: status %d, want 401", r.status)
	}

	off := setup(t, nil)
	wantError(t, off.do(t, "POST", "/api/v1/portal-links", map[string]any{"tenant": "acme"}), http.StatusNotFound, CodeNotFound)
}
