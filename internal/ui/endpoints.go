package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Rotation overlaps the rotate form offers, and its default.
var rotationOverlaps = []struct {
	Value string
	Label string
	D     time.Duration
}{
	{"0", "none: the old secret stops signing now", 0},
	{"1h", "1 hour", time.Hour},
	{"24h", "24 hours", 24 * time.Hour},
	{"168h", "7 days", 7 * 24 * time.Hour},
}

const (
	defaultOverlap = "24h"
	// maxSecrets is how many secrets an endpoint keeps at most; a rotation
	// beyond it drops the oldest.
	maxSecrets = 10
	// healthWindow is how many of an endpoint's most recently attempted
	// deliveries its health is computed from.
	healthWindow = 20
	// maxPendingShown bounds the pending deliveries the endpoint page
	// counts; past it, it says "1000+".
	maxPendingShown = 1000
	// endpointsPerPage is the page size of the endpoint list.
	endpointsPerPage = 50
)

// health sums up an endpoint's most recently attempted deliveries.
type health struct {
	Completed  int // succeeded or failed, of the latest healthWindow attempted
	Succeeded  int
	Retrying   int       // attempted, and waiting for another attempt (or in it)
	LastStatus int       // HTTP status of the latest attempt, 0 if none came back
	LastError  string    // error of the latest attempt, if any
	LastAt     time.Time // when the latest attempt started
	Attempted  bool      // some delivery has had an attempt
}

// healthOf reads the store's figures into a health.
func healthOf(eh store.EndpointHealth) health {
	h := health{
		Completed:  eh.Succeeded + eh.Failed,
		Succeeded:  eh.Succeeded,
		Retrying:   eh.Recent - eh.Succeeded - eh.Failed,
		LastStatus: eh.LastStatus,
		LastError:  eh.LastError,
	}
	if eh.LastAttemptAt != nil {
		h.Attempted, h.LastAt = true, *eh.LastAttemptAt
	}
	return h
}

// RateText says the success rate of the completed deliveries, such as
// "95% of 20", or "—" when none has completed.
func (h health) RateText() string {
	if h.Completed == 0 {
		return "—"
	}
	return fmt.Sprintf("%d%% of %d", h.Succeeded*100/h.Completed, h.Completed)
}

// RateClass is the CSS class of the success rate: ok from 95%, warn from
// 50%, fail below, none without data.
func (h health) RateClass() string {
	switch {
	case h.Completed == 0:
		return "none"
	case h.Succeeded*100 >= 95*h.Completed:
		return "ok"
	case h.Succeeded*100 >= 50*h.Completed:
		return "warn"
	}
	return "fail"
}

// endpointRow is an endpoint with its health, for lists.
type endpointRow struct {
	E *store.Endpoint
	H health
}

// endpointRows loads the health of the endpoints, all in one call.
func (u *UI) endpointRows(r *http.Request, eps []*store.Endpoint) ([]endpointRow, error) {
	ids := make([]string, len(eps))
	for i, e := range eps {
		ids[i] = e.ID
	}
	hs, err := u.store.EndpointHealth(r.Context(), ids, healthWindow)
	if err != nil {
		return nil, fmt.Errorf("endpoint health: %w", err)
	}
	rows := make([]endpointRow, len(eps))
	for i, e := range eps {
		rows[i] = endpointRow{E: e, H: healthOf(hs[e.ID])}
	}
	return rows, nil
}

// endpointListData is the endpoint list's content.
type endpointListData struct {
	Rows []endpointRow
	Next string // cursor of the next page, "" at the end
	// Chart is set on the overview page only.
	Chart *chart
}

// home is the overview: the last hour's chart and the endpoints.
func (u *UI) home(w http.ResponseWriter, r *http.Request, s *session) error {
	c, err := u.lastHourChart(r, s)
	if err != nil {
		return err
	}
	return u.endpointList(w, r, s, "home", c)
}

// listEndpoints shows the endpoints the session sees, with their health.
func (u *UI) listEndpoints(w http.ResponseWriter, r *http.Request, s *session) error {
	return u.endpointList(w, r, s, "endpoints", nil)
}

// endpointList renders page with one page of the session's endpoints and
// the chart c (nil for none).
func (u *UI) endpointList(w http.ResponseWriter, r *http.Request, s *session, page string, c *chart) error {
	cursor := r.URL.Query().Get("cursor")
	eps, next, err := u.store.ListEndpoints(r.Context(), store.EndpointFilter{
		Tenant: s.tenantFilter(),
		Page:   store.Page{Limit: endpointsPerPage, Cursor: cursor},
	})
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{http.StatusBadRequest, "That page of the list no longer exists. Start again from the first page."}
	}
	if err != nil {
		return fmt.Errorf("list endpoints: %w", err)
	}
	rows, err := u.endpointRows(r, eps)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, page, &endpointListData{Rows: rows, Next: next, Chart: c})
	return nil
}

// endpointFor loads the endpoint named by the {id} path value, and answers
// 404 if the session may not see it.
func (u *UI) endpointFor(r *http.Request, s *session) (*store.Endpoint, error) {
	id := r.PathValue("id")
	e, err := u.store.GetEndpoint(r.Context(), id)
	if err != nil {
		return nil, notFoundOr(err, "get endpoint", id)
	}
	if !s.sees(e.Tenant) {
		return nil, errNotFound
	}
	return e, nil
}

// endpointForm is the endpoint form's fields as typed.
type endpointForm struct {
	URL          string
	Description  string
	Scheme       string
	CustomScheme string
	EventTypes   string
	Tenant       string
	Secret       string
	Enabled      bool
	FIFO         bool
	RateLimit    string
}

// endpointFormData is the content of the create and edit pages.
type endpointFormData struct {
	Form     endpointForm
	Endpoint *store.Endpoint // nil when creating
	Errors   []string
	Schemes  []string
}

// formFromEndpoint fills the endpoint form from a stored endpoint.
func formFromEndpoint(e *store.Endpoint) endpointForm {
	f := endpointForm{
		URL:          e.URL,
		Description:  e.Description,
		Scheme:       e.Scheme,
		CustomScheme: string(e.CustomScheme),
		EventTypes:   strings.Join(e.EventTypes, ", "),
		Tenant:       e.Tenant,
		Enabled:      !e.Disabled,
		FIFO:         e.FIFO,
	}
	if e.RateLimit > 0 {
		f.RateLimit = strconv.FormatFloat(e.RateLimit, 'f', -1, 64)
	}
	return f
}

// readEndpointForm reads the endpoint form of a POST.
func readEndpointForm(r *http.Request) endpointForm {
	p := r.PostForm
	return endpointForm{
		URL:          strings.TrimSpace(p.Get("url")),
		Description:  strings.TrimSpace(p.Get("description")),
		Scheme:       p.Get("scheme"),
		CustomScheme: p.Get("custom_scheme"),
		EventTypes:   p.Get("event_types"),
		Tenant:       strings.TrimSpace(p.Get("tenant")),
		Secret:       strings.TrimSpace(p.Get("secret")),
		Enabled:      p.Get("enabled") != "",
		FIFO:         p.Get("fifo") != "",
		RateLimit:    strings.TrimSpace(p.Get("rate_limit")),
	}
}

// schemeChoices lists the schemes the form offers.
func schemeChoices() []string {
	return append(signature.Names(), customSchemeName)
}

// endpointSchemeChoices lists the schemes the form of an endpoint of
// tenant offers: a source's destinations may also forward unsigned.
func endpointSchemeChoices(tenant string) []string {
	if isSourceTenant(tenant) {
		return append([]string{delivery.SchemeNone}, schemeChoices()...)
	}
	return schemeChoices()
}

// isSourceTenant reports whether tenant is reserved for the destinations
// of an inbound source (store.SourceTenantPrefix). Those endpoints are
// created from the source's page only, and no portal session sees them.
func isSourceTenant(tenant string) bool {
	return strings.HasPrefix(tenant, store.SourceTenantPrefix)
}

// newEndpoint shows an empty endpoint form.
func (u *UI) newEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	f := endpointForm{Scheme: defaultSchemeName, Enabled: true}
	if !s.admin() {
		f.Tenant = s.Tenant
	}
	u.render(w, r, s, http.StatusOK, "endpoint_form", &endpointFormData{Form: f, Schemes: schemeChoices()})
	return nil
}

// applyForm checks f and copies it onto e (a new endpoint when creating),
// returning the problems found, for people.
func (u *UI) applyForm(r *http.Request, f endpointForm, e *store.Endpoint, creating bool) []string {
	var errs []string
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	if creating || f.URL != e.URL {
		if err := u.checkURL(r.Context(), f.URL); err != nil {
			add(err)
		} else {
			e.URL = f.URL
		}
	}
	if err := checkText("description", f.Description, maxDescriptionLen); err != nil {
		add(err)
	} else {
		e.Description = f.Description
	}
	if creating {
		if err := checkTenant(f.Tenant); err != nil {
			add(err)
		} else if isSourceTenant(f.Tenant) {
			add(fmt.Errorf("tenant %q is reserved for the destinations of inbound sources: add destinations on the source's page", f.Tenant))
		} else {
			e.Tenant = f.Tenant
		}
	}
	if types, err := parseEventTypes(f.EventTypes); err != nil {
		add(err)
	} else {
		e.EventTypes = types
	}
	rate := 0.0
	if f.RateLimit != "" {
		var err error
		if rate, err = strconv.ParseFloat(f.RateLimit, 64); err != nil {
			add(errors.New("rate limit must be a number"))
		}
	}
	if err := checkRateLimit(rate); err != nil {
		add(err)
	} else {
		e.RateLimit = rate
	}
	e.FIFO = f.FIFO
	if e.Disabled == f.Enabled {
		e.Disabled = !f.Enabled
		e.DisabledReason = ""
		if e.Disabled {
			e.DisabledReason = "manual"
		} else {
			// A fresh start, as the API does on re-enabling.
			e.FailingSince = nil
		}
	}
	if f.Scheme == delivery.SchemeNone && isSourceTenant(e.Tenant) {
		// A source's destination that forwards unsigned: no secret.
		if f.Secret != "" {
			add(fmt.Errorf("scheme %q forwards unsigned and takes no secret", delivery.SchemeNone))
		}
		e.Scheme, e.CustomScheme, e.Secrets = delivery.SchemeNone, nil, nil
		return errs
	}
	scheme, name, custom, err := resolveScheme(f.Scheme, f.CustomScheme)
	if err != nil {
		add(err)
		return errs
	}
	e.Scheme, e.CustomScheme = name, custom
	now := u.now()
	switch {
	case f.Secret != "":
		if err := checkSecret(scheme, f.Secret); err != nil {
			add(err)
		} else {
			e.Secrets = []store.Secret{{Value: f.Secret, CreatedAt: now}}
		}
	case creating, len(e.Secrets) == 0:
		// A new endpoint, or a destination that forwarded unsigned and
		// now re-signs: its secret is generated, and revealed on its page.
		secret, err := signature.GenerateSecret(scheme)
		if err != nil {
			add(fmt.Errorf("generate a secret for scheme %s: %v", scheme.Name(), err))
		} else {
			e.Secrets = []store.Secret{{Value: secret, CreatedAt: now}}
		}
	default:
		for _, sec := range e.Secrets {
			if signature.ValidateSecret(scheme, sec.Value) != nil {
				add(fmt.Errorf("the current secret is not valid for scheme %q: give a new secret with the new scheme", scheme.Name()))
				break
			}
		}
	}
	return errs
}

// createEndpoint creates an endpoint from the form, in the session's
// tenant for a portal session.
func (u *UI) createEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	f := readEndpointForm(r)
	if !s.admin() {
		f.Tenant = s.Tenant // a portal session creates only in its tenant
	}
	now := u.now()
	e := &store.Endpoint{ID: store.NewID("ep"), CreatedAt: now, UpdatedAt: now}
	if errs := u.applyForm(r, f, e, true); len(errs) > 0 {
		f.Secret = ""
		u.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", &endpointFormData{Form: f, Errors: errs, Schemes: schemeChoices()})
		return nil
	}
	if err := u.store.CreateEndpoint(r.Context(), e); err != nil {
		return fmt.Errorf("create endpoint: %w", err)
	}
	u.log.InfoContext(r.Context(), "ui: endpoint created", "endpoint_id", e.ID, "tenant", e.Tenant)
	u.redirect(w, r, u.path("/endpoints/%s", e.ID), "created", -1)
	return nil
}

// endpointData is the endpoint page's content.
type endpointData struct {
	E          *store.Endpoint
	H          health
	Deliveries []*store.Delivery
	// Revealed holds the secrets' values when the page answers a reveal or
	// a rotation; nil otherwise.
	Revealed []store.Secret
	Rotated  bool
	Overlaps any
	// DefaultOverlap is the rotation overlap selected at first.
	DefaultOverlap string
	// Pending counts the endpoint's pending deliveries, up to
	// maxPendingShown; PendingMore says there are more.
	Pending     int
	PendingMore bool
	// ReplaySince is the replay form's default time.
	ReplaySince time.Time
	// Source is the source whose destination the endpoint is, nil for
	// any other endpoint (or once the source is deleted).
	Source *store.Source
}

// showEndpoint shows one endpoint: settings, health, secrets, recent
// deliveries.
func (u *UI) showEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	return u.renderEndpoint(w, r, s, e, nil, false)
}

// renderEndpoint renders the endpoint page, with the secrets' values if
// revealed is not nil.
func (u *UI) renderEndpoint(w http.ResponseWriter, r *http.Request, s *session, e *store.Endpoint, revealed []store.Secret, rotated bool) error {
	hs, err := u.store.EndpointHealth(r.Context(), []string{e.ID}, healthWindow)
	if err != nil {
		return fmt.Errorf("health of %s: %w", e.ID, err)
	}
	ds, _, err := u.store.ListDeliveries(r.Context(), store.DeliveryFilter{EndpointID: e.ID, Page: store.Page{Limit: 10}})
	if err != nil {
		return fmt.Errorf("list deliveries of %s: %w", e.ID, err)
	}
	pending, more, err := u.pendingCount(r, e)
	if err != nil {
		return err
	}
	var src *store.Source
	if name, ok := strings.CutPrefix(e.Tenant, store.SourceTenantPrefix); ok && s.admin() {
		if src, err = u.store.SourceByName(r.Context(), name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("source of endpoint %s: %w", e.ID, err)
		}
	}
	u.render(w, r, s, http.StatusOK, "endpoint", &endpointData{
		Source:         src,
		E:              e,
		H:              healthOf(hs[e.ID]),
		Deliveries:     ds,
		Revealed:       revealed,
		Rotated:        rotated,
		Overlaps:       rotationOverlaps,
		DefaultOverlap: defaultOverlap,
		Pending:        pending,
		PendingMore:    more,
		ReplaySince:    u.now().Add(-24 * time.Hour).UTC(),
	})
	return nil
}

// editEndpoint shows the form of an endpoint.
func (u *UI) editEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "endpoint_form", &endpointFormData{Form: formFromEndpoint(e), Endpoint: e, Schemes: endpointSchemeChoices(e.Tenant)})
	return nil
}

// updateEndpoint saves the endpoint form; the tenant never changes.
func (u *UI) updateEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	orig := *e
	f := readEndpointForm(r)
	if errs := u.applyForm(r, f, e, false); len(errs) > 0 {
		f.Secret = ""
		f.Tenant = orig.Tenant
		u.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", &endpointFormData{Form: f, Endpoint: &orig, Errors: errs, Schemes: endpointSchemeChoices(orig.Tenant)})
		return nil
	}
	e.UpdatedAt = u.now()
	patch := store.PatchOf(e)
	if e.Disabled != orig.Disabled {
		patch.Enabled = store.Ptr(!e.Disabled)
	}
	if e, err = u.store.UpdateEndpoint(r.Context(), orig.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return patch, nil
	}); err != nil {
		return notFoundOr(err, "update endpoint", orig.ID)
	}
	if !e.Disabled {
		u.notify() // deliveries held back while it was disabled may be due
	}
	u.redirect(w, r, u.path("/endpoints/%s", e.ID), "updated", -1)
	return nil
}

// liveSecrets returns the secrets that still sign at now.
func liveSecrets(ss []store.Secret, now time.Time) []store.Secret {
	return slices.DeleteFunc(slices.Clone(ss), func(s store.Secret) bool {
		return s.ExpiresAt != nil && !s.ExpiresAt.After(now)
	})
}

// revealSecret answers with the endpoint page showing its secrets. It is a
// POST, so that a secret never sits in a URL or in the browser's history
// of GETs, and it is logged.
func (u *UI) revealSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	u.log.InfoContext(r.Context(), "ui: secret revealed", "endpoint_id", e.ID, "session", s.Kind)
	return u.renderEndpoint(w, r, s, e, liveSecrets(e.Secrets, u.now()), false)
}

// rotateSecret makes a new secret the endpoint's first: the current ones
// keep signing for the chosen overlap, so receivers can switch without
// missing a delivery.
func (u *UI) rotateSecret(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	var overlap time.Duration
	found := false
	for _, o := range rotationOverlaps {
		if o.Value == r.PostForm.Get("overlap") {
			overlap, found = o.D, true
		}
	}
	if !found {
		return &pageError{http.StatusBadRequest, "Choose how long the old secret keeps signing."}
	}
	if e.Scheme == delivery.SchemeNone {
		return &pageError{http.StatusConflict, "This destination forwards unsigned (scheme none): it has no secret to rotate. To re-sign what it receives, edit it and choose a scheme."}
	}
	scheme, _, _, err := resolveScheme(e.Scheme, string(e.CustomScheme))
	if err != nil {
		return fmt.Errorf("scheme of endpoint %s: %w", e.ID, err)
	}
	secret := strings.TrimSpace(r.PostForm.Get("secret"))
	if secret != "" {
		if err := checkSecret(scheme, secret); err != nil {
			return &pageError{http.StatusUnprocessableEntity, "The new secret cannot be used: " + err.Error()}
		}
	} else if secret, err = signature.GenerateSecret(scheme); err != nil {
		return fmt.Errorf("generate secret for scheme %s: %w", scheme.Name(), err)
	}
	now := u.now()
	// The rotation applies to the secrets as stored when it is written.
	id := e.ID
	if e, err = u.store.UpdateEndpoint(r.Context(), id, func(cur *store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Secrets: store.Ptr(rotate(cur.Secrets, secret, now, overlap)), UpdatedAt: now}, nil
	}); err != nil {
		return notFoundOr(err, "update endpoint", id)
	}
	u.log.InfoContext(r.Context(), "ui: secret rotated", "endpoint_id", e.ID, "overlap", overlap)
	return u.renderEndpoint(w, r, s, e, liveSecrets(e.Secrets, now), true)
}

// rotate returns the secrets after a rotation to secret at now: the new
// secret first, then the old ones that still sign, each expiring at
// now+overlap at the latest, at most maxSecrets in all. It is the API's
// rule.
func rotate(old []store.Secret, secret string, now time.Time, overlap time.Duration) []store.Secret {
	out := []store.Secret{{Value: secret, CreatedAt: now}}
	if overlap <= 0 {
		return out
	}
	until := now.Add(overlap)
	for _, s := range old {
		if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
			continue
		}
		if s.ExpiresAt == nil || s.ExpiresAt.After(until) {
			s.ExpiresAt = &until
		}
		out = append(out, s)
	}
	return out[:min(len(out), maxSecrets)]
}

// confirmData is the delete confirmation's content.
type confirmData struct {
	E       *store.Endpoint
	Pending int
	More    bool // more than Pending
}

// confirmDelete asks before deleting an endpoint, saying how many pending
// deliveries it cancels.
func (u *UI) confirmDelete(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	pending, more, err := u.pendingCount(r, e)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "confirm_delete", &confirmData{E: e, Pending: pending, More: more})
	return nil
}

// pendingCount counts the pending deliveries of e, up to maxPendingShown,
// and says whether there are more.
func (u *UI) pendingCount(r *http.Request, e *store.Endpoint) (int, bool, error) {
	ds, next, err := u.store.ListDeliveries(r.Context(), store.DeliveryFilter{EndpointID: e.ID, Status: store.StatusPending, Page: store.Page{Limit: maxPendingShown}})
	if err != nil {
		return 0, false, fmt.Errorf("list pending deliveries of %s: %w", e.ID, err)
	}
	return len(ds), next != "", nil
}

// deleteEndpoint deletes an endpoint, which cancels its pending
// deliveries.
func (u *UI) deleteEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	if err := u.store.DeleteEndpoint(r.Context(), e.ID); err != nil {
		return notFoundOr(err, "delete endpoint", e.ID)
	}
	u.log.InfoContext(r.Context(), "ui: endpoint deleted", "endpoint_id", e.ID, "tenant", e.Tenant)
	u.redirect(w, r, u.path("/endpoints"), "deleted", -1)
	return nil
}
