package ui

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
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
	Filter       string
	// TestPayload is the payload of the form's "test filter" check; it is
	// not saved.
	TestPayload string
	Tenant      string
	Secret      string
	Enabled     bool
	FIFO        bool
	// TraceContext sends the traceparent header of deliveries.
	TraceContext bool
	RateLimit    string
	// The delivery settings. Secret fields are never filled from the
	// stored endpoint; on an edit, empty ones keep what is stored.
	Headers                                   string // "Name: value" lines; replace all when not empty
	ClearHeaders                              bool
	AuthType                                  string // "" keeps (edit) or none (create); "none" clears
	AuthUsername, AuthPassword, AuthToken     string
	OAuthTokenURL, OAuthClientID, OAuthSecret string
	OAuthScopes, OAuthAudience                string
	ClientCertPEM, ClientKeyPEM, CAPEM        string
	ClearTLS                                  bool
	Timeout                                   string // seconds; "" or 0 for the server's
	RetrySchedule                             string // rules.ParseSchedule
}

// clearSecrets empties the form's secret fields before it is shown again.
func (f *endpointForm) clearSecrets() {
	f.Secret, f.Headers, f.AuthPassword, f.AuthToken, f.OAuthSecret, f.ClientKeyPEM = "", "", "", "", "", ""
}

// formSettings are the delivery settings a form asks for; nil fields ask
// for no change.
type formSettings struct {
	headers  *map[string]string
	auth     *store.ReceiverAuth
	tls      *store.ClientTLS
	timeout  *time.Duration
	schedule *[]time.Duration
}

// settings reads the delivery settings of f; e is the endpoint edited, nil
// when creating.
func (f *endpointForm) settings(e *store.Endpoint) (formSettings, []string) {
	var (
		out  formSettings
		errs []string
	)
	if f.ClearHeaders {
		out.headers = new(map[string]string{})
	} else if strings.TrimSpace(f.Headers) != "" {
		h, err := rules.ParseHeaderLines(f.Headers)
		if err != nil {
			errs = append(errs, messages(err)...)
		}
		out.headers = &h
	}
	switch f.AuthType {
	case "":
	case "off":
		out.auth = &store.ReceiverAuth{}
	default:
		out.auth = &store.ReceiverAuth{Type: f.AuthType, Username: f.AuthUsername, Password: f.AuthPassword, Token: f.AuthToken,
			TokenURL: f.OAuthTokenURL, ClientID: f.OAuthClientID, ClientSecret: f.OAuthSecret, Audience: f.OAuthAudience}
		if f.AuthType == store.AuthOAuth2 {
			out.auth.Scopes = rules.SplitList(f.OAuthScopes)
		} else {
			out.auth.TokenURL, out.auth.ClientID, out.auth.Audience = "", "", ""
		}
		if f.AuthType != store.AuthBasic {
			out.auth.Username = ""
		}
	}
	if f.ClearTLS {
		out.tls = &store.ClientTLS{}
	} else if f.ClientCertPEM != "" || f.ClientKeyPEM != "" || f.CAPEM != "" {
		out.tls = &store.ClientTLS{CertPEM: f.ClientCertPEM, KeyPEM: f.ClientKeyPEM, CAPEM: f.CAPEM}
	}
	var timeout time.Duration
	if t := strings.TrimSpace(f.Timeout); t != "" {
		n, err := strconv.ParseFloat(t, 64)
		if err != nil {
			errs = append(errs, "Request timeout must be a number of seconds")
		}
		timeout = time.Duration(n * float64(time.Second))
	}
	if e == nil || timeout != e.Timeout {
		out.timeout = &timeout
	}
	sched, err := rules.ParseSchedule(f.RetrySchedule)
	if err != nil {
		errs = append(errs, messages(err)...)
	} else if e == nil || rules.FormatSchedule(sched) != rules.FormatSchedule(e.RetrySchedule) {
		out.schedule = &sched
	}
	return out, errs
}

// endpointFormData is the content of the create and edit pages.
type endpointFormData struct {
	Form     endpointForm
	Endpoint *store.Endpoint // nil when creating
	Errors   []string
	Schemes  []string
	// Catalog is what the event types field offers: the catalog's types
	// and group prefixes.
	Catalog []string
	// FilterTested says the page answers a "test filter" check, and
	// FilterMatches its answer.
	FilterTested, FilterMatches bool
}

// testFilterAction is the value of the form button that checks the
// payload filter against the test payload instead of saving.
const testFilterAction = "test-filter"

// testFilter answers the form's "test filter" check: the form again, with
// whether its test payload matches its filter (as typed, not yet saved).
func (u *UI) testFilter(w http.ResponseWriter, r *http.Request, s *session, f endpointForm, e *store.Endpoint) {
	ok, err := rules.MatchFilter([]byte(f.Filter), []byte(f.TestPayload))
	d := &endpointFormData{Form: f, Endpoint: e, Schemes: rules.SchemeChoices(f.Tenant), Catalog: u.catalogFilters(r)}
	d.Errors = messages(err)
	d.FilterTested, d.FilterMatches = d.Errors == nil, ok
	d.Form.Secret = ""
	status := http.StatusOK
	if d.Errors != nil {
		status = http.StatusUnprocessableEntity
	}
	u.render(w, r, s, status, "endpoint_form", d)
}

// formFromEndpoint fills the endpoint form from a stored endpoint.
func formFromEndpoint(e *store.Endpoint) endpointForm {
	f := endpointForm{
		URL:           e.URL,
		Description:   e.Description,
		Scheme:        e.Scheme,
		CustomScheme:  string(e.CustomScheme),
		EventTypes:    strings.Join(e.EventTypes, ", "),
		Filter:        string(e.Filter),
		Tenant:        e.Tenant,
		Enabled:       !e.Disabled,
		FIFO:          e.FIFO,
		TraceContext:  e.TraceContext,
		RetrySchedule: rules.FormatSchedule(e.RetrySchedule),
	}
	if e.RateLimit > 0 {
		f.RateLimit = strconv.FormatFloat(e.RateLimit, 'f', -1, 64)
	}
	if e.Timeout > 0 {
		f.Timeout = strconv.FormatFloat(e.Timeout.Seconds(), 'f', -1, 64)
	}
	if a := e.Auth; a != nil {
		// Not the secrets: an edit keeps them unless the type is chosen
		// again with new ones.
		f.AuthUsername, f.OAuthTokenURL, f.OAuthClientID = a.Username, a.TokenURL, a.ClientID
		f.OAuthScopes, f.OAuthAudience = strings.Join(a.Scopes, " "), a.Audience
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
		Filter:       strings.TrimSpace(p.Get("filter")),
		TestPayload:  strings.TrimSpace(p.Get("test_payload")),
		Tenant:       strings.TrimSpace(p.Get("tenant")),
		Secret:       strings.TrimSpace(p.Get("secret")),
		Enabled:      p.Get("enabled") != "",
		FIFO:         p.Get("fifo") != "",
		TraceContext: p.Get("trace_context") != "",
		RateLimit:    strings.TrimSpace(p.Get("rate_limit")),

		Headers:       p.Get("headers"),
		ClearHeaders:  p.Get("clear_headers") != "",
		AuthType:      p.Get("auth_type"),
		AuthUsername:  strings.TrimSpace(p.Get("auth_username")),
		AuthPassword:  p.Get("auth_password"),
		AuthToken:     strings.TrimSpace(p.Get("auth_token")),
		OAuthTokenURL: strings.TrimSpace(p.Get("oauth_token_url")),
		OAuthClientID: strings.TrimSpace(p.Get("oauth_client_id")),
		OAuthSecret:   p.Get("oauth_client_secret"),
		OAuthScopes:   p.Get("oauth_scopes"),
		OAuthAudience: strings.TrimSpace(p.Get("oauth_audience")),
		ClientCertPEM: strings.TrimSpace(p.Get("client_cert_pem")),
		ClientKeyPEM:  strings.TrimSpace(p.Get("client_key_pem")),
		CAPEM:         strings.TrimSpace(p.Get("ca_pem")),
		ClearTLS:      p.Get("clear_tls") != "",
		Timeout:       strings.TrimSpace(p.Get("timeout_seconds")),
		RetrySchedule: p.Get("retry_schedule"),
	}
}

// newEndpoint shows an empty endpoint form.
func (u *UI) newEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	f := endpointForm{Scheme: schemes.Default, Enabled: true}
	if !s.admin() {
		f.Tenant = s.Tenant
	}
	u.render(w, r, s, http.StatusOK, "endpoint_form", &endpointFormData{Form: f, Schemes: rules.SchemeChoices(f.Tenant), Catalog: u.catalogFilters(r)})
	return nil
}

// parseRate reads the rate limit typed in the form; "" is none.
func parseRate(s string) (float64, []string) {
	if s == "" {
		return 0, nil
	}
	rate, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, []string{"Rate limit must be a number"}
	}
	return rate, nil
}

// createEndpoint creates an endpoint from the form, in the session's
// tenant for a portal session.
func (u *UI) createEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	f := readEndpointForm(r)
	if !s.admin() {
		f.Tenant = s.Tenant // a portal session creates only in its tenant
	}
	if r.PostForm.Get("action") == testFilterAction {
		u.testFilter(w, r, s, f, nil)
		return nil
	}
	rate, errs := parseRate(f.RateLimit)
	set, serrs := f.settings(nil)
	errs = append(errs, serrs...)
	var e *store.Endpoint
	if len(errs) == 0 {
		spec := rules.EndpointSpec{
			Tenant: f.Tenant, URL: f.URL, Description: f.Description,
			Scheme: f.Scheme, CustomScheme: []byte(strings.TrimSpace(f.CustomScheme)), Secret: f.Secret,
			EventTypes: rules.SplitList(f.EventTypes), Filter: []byte(f.Filter), Disabled: !f.Enabled, FIFO: f.FIFO, RateLimit: rate,
			Auth: set.auth, ClientTLS: set.tls, Timeout: *set.timeout, RetrySchedule: *set.schedule,
			TraceContext: f.TraceContext,
		}
		if set.headers != nil {
			spec.Headers = *set.headers
		}
		var err error
		e, _, err = u.rules.CreateEndpoint(r.Context(), spec)
		if errs = messages(err); errs == nil && err != nil {
			return err
		}
	}
	if len(errs) > 0 {
		f.clearSecrets()
		u.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", &endpointFormData{Form: f, Errors: errs, Schemes: rules.SchemeChoices(f.Tenant), Catalog: u.catalogFilters(r)})
		return nil
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
	// Stats are the attempts of the last hour and day, as the API's
	// /stats gives them.
	Stats []statsRow
}

// statsRow is one window of the endpoint page's statistics.
type statsRow struct {
	Name string
	S    store.AttemptStats
}

// SuccessPercent is the success rate in percent, one decimal.
func (r statsRow) SuccessPercent() string {
	return strconv.FormatFloat(100*r.S.SuccessRate(), 'f', 1, 64) + "%"
}

// endpointStats reads the statistics of each of store.StatsWindows.
func (u *UI) endpointStats(r *http.Request, id string) ([]statsRow, error) {
	now := u.now()
	var out []statsRow
	for _, win := range store.StatsWindows {
		st, err := u.store.EndpointAttemptStats(r.Context(), id, now.Add(-win.Length), now)
		if err != nil {
			return nil, fmt.Errorf("stats of %s: %w", id, err)
		}
		out = append(out, statsRow{Name: win.Name, S: st})
	}
	return out, nil
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
	stats, err := u.endpointStats(r, e.ID)
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
		Stats:          stats,
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
	u.render(w, r, s, http.StatusOK, "endpoint_form", &endpointFormData{Form: formFromEndpoint(e), Endpoint: e, Schemes: rules.SchemeChoices(e.Tenant), Catalog: u.catalogFilters(r)})
	return nil
}

// updateEndpoint saves the endpoint form; the tenant never changes. Only
// the fields that differ from the endpoint as read are changed, so that
// the form does not undo what changed meanwhile elsewhere.
func (u *UI) updateEndpoint(w http.ResponseWriter, r *http.Request, s *session) error {
	e, err := u.endpointFor(r, s)
	if err != nil {
		return err
	}
	f := readEndpointForm(r)
	if r.PostForm.Get("action") == testFilterAction {
		f.Tenant = e.Tenant
		u.testFilter(w, r, s, f, e)
		return nil
	}
	rate, errs := parseRate(f.RateLimit)
	set, serrs := f.settings(e)
	errs = append(errs, serrs...)
	if len(errs) == 0 {
		ch := rules.EndpointChange{Headers: set.headers, Auth: set.auth, ClientTLS: set.tls, Timeout: set.timeout, RetrySchedule: set.schedule}
		if f.Filter != string(e.Filter) {
			ch.Filter = new([]byte(f.Filter))
		}
		if f.URL != e.URL {
			ch.URL = &f.URL
		}
		if f.Description != e.Description {
			ch.Description = &f.Description
		}
		if types := rules.SplitList(f.EventTypes); !slices.Equal(types, e.EventTypes) {
			ch.EventTypes = &types
		}
		if f.Enabled == e.Disabled {
			ch.Enabled = &f.Enabled
		}
		if f.FIFO != e.FIFO {
			ch.FIFO = &f.FIFO
		}
		if f.TraceContext != e.TraceContext {
			ch.TraceContext = &f.TraceContext
		}
		if rate != e.RateLimit {
			ch.RateLimit = &rate
		}
		custom := strings.TrimSpace(f.CustomScheme)
		if f.Scheme != e.Scheme || (f.Scheme == schemes.Custom && custom != string(e.CustomScheme)) {
			ch.Scheme = &f.Scheme
			if f.Scheme == schemes.Custom {
				ch.CustomScheme = []byte(custom)
			}
		}
		if f.Secret != "" {
			ch.Secret = &f.Secret
		}
		_, _, err = u.rules.UpdateEndpoint(r.Context(), e.ID, ch, s.tenantFilter())
		if errs = messages(err); errs == nil && err != nil {
			return notFoundOr(err, "update endpoint", e.ID)
		}
	}
	if len(errs) > 0 {
		f.clearSecrets()
		f.Tenant = e.Tenant
		u.render(w, r, s, http.StatusUnprocessableEntity, "endpoint_form", &endpointFormData{Form: f, Endpoint: e, Errors: errs, Schemes: rules.SchemeChoices(e.Tenant), Catalog: u.catalogFilters(r)})
		return nil
	}
	if f.Enabled {
		u.notify() // deliveries held back while it was disabled may be due
	}
	u.redirect(w, r, u.path("/endpoints/%s", e.ID), "updated", -1)
	return nil
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
	return u.renderEndpoint(w, r, s, e, rules.LiveSecrets(e.Secrets, u.now()), false)
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
	rot := rules.Rotation{Secret: strings.TrimSpace(r.PostForm.Get("secret")), Overlap: &overlap}
	id := e.ID
	e, _, err = u.rules.RotateSecret(r.Context(), id, rot, s.tenantFilter())
	switch {
	case errors.Is(err, rules.ErrUnsigned):
		return &pageError{http.StatusConflict, "This destination forwards unsigned (scheme none): it has no secret to rotate. To re-sign what it receives, edit it and choose a scheme."}
	case messages(err) != nil:
		return &pageError{http.StatusUnprocessableEntity, "The new secret cannot be used: " + strings.Join(messages(err), "; ")}
	case err != nil:
		return notFoundOr(err, "rotate the secret of endpoint", id)
	}
	u.log.InfoContext(r.Context(), "ui: secret rotated", "endpoint_id", e.ID, "overlap", overlap)
	return u.renderEndpoint(w, r, s, e, rules.LiveSecrets(e.Secrets, u.now()), true)
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
	if err := u.rules.DeleteEndpoint(r.Context(), e.ID, s.tenantFilter()); err != nil {
		return notFoundOr(err, "delete endpoint", e.ID)
	}
	u.log.InfoContext(r.Context(), "ui: endpoint deleted", "endpoint_id", e.ID, "tenant", e.Tenant)
	u.redirect(w, r, u.path("/endpoints"), "deleted", -1)
	return nil
}
