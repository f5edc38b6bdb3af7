package api

import (
	"net/http"
	"time"

	"github.com/hookrelay/hookrelay/internal/access"
	"github.com/hookrelay/hookrelay/internal/rules"
)

// PortalLinkMinter mints the dashboard's tenant portal links; internal/ui's
// *UI implements it.
type PortalLinkMinter interface {
	MintPortalLink(tenant string, ttl time.Duration) (path string, err error)
}

// DefaultPortalLinkTTL is how long a portal link works when the request does
// not say.
const DefaultPortalLinkTTL = 15 * time.Minute

type portalLinkRequest struct {
	Tenant     string `json:"tenant"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

type portalLinkJSON struct {
	Path      string    `json:"path"`
	Tenant    string    `json:"tenant"`
	ExpiresAt time.Time `json:"expires_at"`
}

// createPortalLink answers POST /api/v1/portal-links: a short-lived signed
// link to the dashboard through which one tenant manages only its own
// endpoints and sees only its own deliveries.
func (a *API) createPortalLink(w http.ResponseWriter, r *http.Request) error {
	var req portalLinkRequest
	if err := decodeBody(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	if req.Tenant == "" {
		return invalid("tenant is required")
	}
	if err := checkTenant(req.Tenant); err != nil {
		return err
	}
	p := principalOf(r)
	if err := p.CanMint(&req.Tenant, access.PortalScopes); err != nil {
		return accessError(err)
	}
	if a.portal == nil {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "the dashboard is not enabled"}
	}
	if req.TTLSeconds < 0 {
		return invalid("ttl_seconds must not be negative")
	}
	ttl := DefaultPortalLinkTTL
	if req.TTLSeconds > 0 {
		// Saturating: a number of seconds past time.Duration's range
		// becomes its longest, which the minter refuses.
		ttl = rules.Seconds(req.TTLSeconds)
	}
	if p.Token && a.now().Add(ttl).After(p.Expires) {
		// A token mints nothing that outlives it.
		ttl = p.Expires.Sub(a.now())
	}
	path, err := a.portal.MintPortalLink(req.Tenant, ttl)
	if err != nil {
		return invalid("%v", err)
	}
	noteTenant(r, req.Tenant)
	noteTarget(r, "", "expires "+utc(a.now().Add(ttl)).Format(time.RFC3339))
	writeJSON(w, http.StatusCreated, portalLinkJSON{Path: path, Tenant: req.Tenant, ExpiresAt: utc(a.now().Add(ttl))})
	return nil
}
