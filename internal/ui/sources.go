package ui

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/schemes"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// Sizes of the source pages.
const (
	// sourcesPerPage is the page size of the source list.
	sourcesPerPage = 50
	// recentRequests is how many accepted and how many rejected requests
	// a source's page shows.
	recentRequests = 20
	// recentDeliveries bounds the deliveries read to find the latest
	// recentRequests accepted requests: one per destination each.
	recentDeliveries = 200
	// newDestinationRows is how many empty destination rows the source
	// form offers.
	newDestinationRows = 2
)

// adminOnly wraps the handler of a page only an admin session may see:
// the inbound sources, which belong to no tenant. A portal session gets
// the 404 page, as for anything of another tenant.
func adminOnly(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, s *session) error {
		if !s.admin() {
			return errNotFound
		}
		return h(w, r, s)
	}
}

// sourceRow is a source with its number of destinations, for the list.
type sourceRow struct {
	S            *store.Source
	Destinations int
}

// sourceListData is the source list's content.
type sourceListData struct {
	Rows []sourceRow
	Next string // cursor of the next page, "" at the end
}

// listSources shows a page of sources, with their destinations counted in
// one store call for the whole page.
func (u *UI) listSources(w http.ResponseWriter, r *http.Request, s *session) error {
	srcs, next, err := u.store.ListSources(r.Context(), store.Page{Limit: sourcesPerPage, Cursor: r.URL.Query().Get("cursor")})
	if errors.Is(err, store.ErrNotFound) {
		return &pageError{http.StatusBadRequest, "That page of the list no longer exists. Start again from the first page."}
	}
	if err != nil {
		return fmt.Errorf("list sources: %w", err)
	}
	counts := make(map[string]int, len(srcs))
	if len(srcs) > 0 {
		tenants := make([]string, len(srcs))
		for i, src := range srcs {
			tenants[i] = src.Tenant()
		}
		f := store.EndpointFilter{Tenants: tenants, Page: store.Page{Limit: 1000}}
		for {
			eps, next, err := u.store.ListEndpoints(r.Context(), f)
			if err != nil {
				return fmt.Errorf("list destinations of sources: %w", err)
			}
			for _, e := range eps {
				counts[e.Tenant]++
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	rows := make([]sourceRow, len(srcs))
	for i, src := range srcs {
		rows[i] = sourceRow{S: src, Destinations: counts[src.Tenant()]}
	}
	u.render(w, r, s, http.StatusOK, "sources", &sourceListData{Rows: rows, Next: next})
	return nil
}

// sourceFor loads the source named by the {id} path value.
func (u *UI) sourceFor(r *http.Request) (*store.Source, error) {
	id := r.PathValue("id")
	src, err := u.store.GetSource(r.Context(), id)
	if err != nil {
		return nil, notFoundOr(err, "get source", id)
	}
	return src, nil
}

// acceptedRequest is a request the gateway accepted: its event and the
// deliveries that forward it, one per destination.
type acceptedRequest struct {
	EventID    string
	ReceivedAt time.Time
	Deliveries []forwardRow
}

// forwardRow is a delivery of an accepted request with its destination's
// URL ("" once the destination is deleted).
type forwardRow struct {
	D   *store.Delivery
	URL string
}

// rejectionView is a refused request prepared for the page.
type rejectionView struct {
	R       *store.Rejection
	Headers []headerView
	// Body is the kept start of the body: as text when it is UTF-8, else
	// base64 with Base64 set.
	Body      string
	Base64    bool
	Truncated bool
}

// sourceData is the source page's content.
type sourceData struct {
	S            *store.Source
	IngestURL    string
	Tolerance    time.Duration // the effective one: the scheme's own when S.Tolerance is 0
	Destinations []*store.Endpoint
	Accepted     []acceptedRequest
	Rejections   []rejectionView
	// GeneratedSecret is the secret generated for a source just created
	// without one: shown on this answer only.
	GeneratedSecret string
}

// showSource shows a source: its settings, destinations and recent
// requests.
func (u *UI) showSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	return u.renderSource(w, r, s, http.StatusOK, src, "")
}

// renderSource renders the source page, with generated, the secret just
// generated for it, if not "".
func (u *UI) renderSource(w http.ResponseWriter, r *http.Request, s *session, status int, src *store.Source, generated string) error {
	ctx := r.Context()
	data := &sourceData{S: src, IngestURL: u.ingestURL(r, src), Tolerance: src.Tolerance, GeneratedSecret: generated}
	var sigHeaders []string
	if sc, err := schemes.Resolve(src.Scheme, src.CustomScheme); err == nil && sc != nil {
		sigHeaders = sc.Headers()
		if data.Tolerance == 0 {
			data.Tolerance = sc.Tolerance()
		}
	}
	var err error
	if data.Destinations, err = u.rules.Destinations(ctx, src); err != nil {
		return err
	}
	urls := make(map[string]string, len(data.Destinations))
	for _, e := range data.Destinations {
		urls[e.ID] = e.URL
	}

	// The accepted requests are the events of the source's tenant and
	// type; they are read through their deliveries, one per destination,
	// which carry both and which the store lists by tenant. Since the
	// source's creation: an earlier source of the same name had the same
	// tenant.
	tenant := src.Tenant()
	ds, next, err := u.store.ListDeliveries(ctx, store.DeliveryFilter{
		Tenant: &tenant, EventType: src.EventType(), Since: src.CreatedAt,
		Page: store.Page{Limit: recentDeliveries},
	})
	if err != nil {
		return fmt.Errorf("list deliveries of source %s: %w", src.ID, err)
	}
	data.Accepted = groupByEvent(ds, urls, next != "")
	data.Accepted = data.Accepted[:min(len(data.Accepted), recentRequests)]

	rejs, _, err := u.store.ListRejections(ctx, store.RejectionFilter{SourceID: src.ID, Page: store.Page{Limit: recentRequests}})
	if err != nil {
		return fmt.Errorf("list rejections of source %s: %w", src.ID, err)
	}
	for _, rj := range rejs {
		v := rejectionView{R: rj, Headers: headerViews(rj.Headers, sigHeaders), Truncated: rj.BodySize > int64(len(rj.Body))}
		if utf8.Valid(rj.Body) {
			v.Body = string(rj.Body)
		} else {
			v.Body, v.Base64 = base64.StdEncoding.EncodeToString(rj.Body), true
		}
		data.Rejections = append(data.Rejections, v)
	}
	u.render(w, r, s, status, "source", data)
	return nil
}

// groupByEvent groups deliveries, newest first, by their event, newest
// event first. When more deliveries follow (more), the oldest event's may
// be cut, so it is left out.
func groupByEvent(ds []*store.Delivery, urls map[string]string, more bool) []acceptedRequest {
	var out []acceptedRequest
	at := make(map[string]int)
	for _, d := range ds {
		i, ok := at[d.EventID]
		if !ok {
			i = len(out)
			at[d.EventID] = i
			out = append(out, acceptedRequest{EventID: d.EventID, ReceivedAt: d.CreatedAt})
		}
		out[i].Deliveries = append(out[i].Deliveries, forwardRow{D: d, URL: urls[d.EndpointID]})
	}
	// Deliveries of one event are created together, but events created in
	// the same millisecond may interleave: order by event id, which sorts
	// by creation time.
	slices.SortStableFunc(out, func(a, b acceptedRequest) int { return strings.Compare(b.EventID, a.EventID) })
	if more && len(out) > 1 {
		out = out[:len(out)-1]
	}
	return out
}

// ingestURL is the URL a sender posts src's webhooks to: the gateway at
// /in/{name} on the host the dashboard was reached at.
func (u *UI) ingestURL(r *http.Request, src *store.Source) string {
	scheme := "http"
	if r.TLS != nil || u.secure {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/in/" + src.Name
}

// sourceForm is the source form's fields as typed.
type sourceForm struct {
	Name         string
	Description  string
	Scheme       string
	CustomScheme string
	// NewSecret is a secret to add, first (the newest); on creation,
	// "" generates one.
	NewSecret string
	// Keep[i] keeps the source's i-th current secret.
	Keep []bool
	// Version is the UpdatedAt (Unix milliseconds) of the source the form
	// was filled from; Keep's indexes refer to its secrets.
	Version        string
	Tolerance      string // seconds; "" or 0 for the scheme's own
	DedupeWindow   string // seconds; "" or 0 for the default
	SlackChallenge bool
	ZoomSecret     string // "" keeps the current one
	ZoomOff        bool
	// Remove lists the ids of destinations to delete.
	Remove []string
	// New are the destinations to add.
	New []destinationRow
}

// destinationRow is a new destination as typed: a URL and its re-signing
// scheme, "none" to forward unsigned.
type destinationRow struct {
	URL    string
	Scheme string
}

// sourceFormData is the content of the create and edit pages.
type sourceFormData struct {
	Form   sourceForm
	Source *store.Source // nil when creating
	// Destinations are the source's current ones, when editing.
	Destinations []*store.Endpoint
	Errors       []string
	Schemes      []string
	// DestSchemes are the choices of a destination's scheme: none, then
	// the built-in schemes.
	DestSchemes []string
	Limits      sourceLimits
}

// sourceLimits are the bounds the form states.
type sourceLimits struct {
	MaxTolerance, MaxDedupe, DefaultDedupe int64 // seconds
	MaxSecrets                             int
}

// newSourceFormData fills the form page's content, with empty rows for new
// destinations.
func newSourceFormData(f sourceForm, src *store.Source, dests []*store.Endpoint, errs []string) *sourceFormData {
	for len(f.New) < newDestinationRows {
		f.New = append(f.New, destinationRow{Scheme: schemes.None})
	}
	return &sourceFormData{
		Form: f, Source: src, Destinations: dests, Errors: errs,
		Schemes:     schemes.Names(),
		DestSchemes: append([]string{schemes.None}, signature.Names()...),
		Limits: sourceLimits{
			MaxTolerance:  int64(rules.MaxTolerance / time.Second),
			MaxDedupe:     int64(rules.MaxDedupeWindow / time.Second),
			DefaultDedupe: int64(rules.DefaultDedupeWindow / time.Second),
			MaxSecrets:    rules.MaxSecrets,
		},
	}
}

// formFromSource fills the source form from a stored source.
func formFromSource(src *store.Source) sourceForm {
	f := sourceForm{
		Name:           src.Name,
		Description:    src.Description,
		Scheme:         src.Scheme,
		CustomScheme:   string(src.CustomScheme),
		Keep:           make([]bool, len(src.Secrets)),
		Version:        strconv.FormatInt(src.UpdatedAt.UnixMilli(), 10),
		SlackChallenge: src.SlackChallenge,
	}
	for i := range f.Keep {
		f.Keep[i] = true
	}
	if src.Tolerance > 0 {
		f.Tolerance = strconv.FormatInt(int64(src.Tolerance/time.Second), 10)
	}
	if src.DedupeWindow > 0 {
		f.DedupeWindow = strconv.FormatInt(int64(src.DedupeWindow/time.Second), 10)
	}
	return f
}

// readSourceForm reads the source form of a POST; n is how many secrets
// the source has (0 when creating).
func readSourceForm(r *http.Request, n int) sourceForm {
	p := r.PostForm
	f := sourceForm{
		Name:           strings.TrimSpace(p.Get("name")),
		Description:    strings.TrimSpace(p.Get("description")),
		Scheme:         p.Get("scheme"),
		CustomScheme:   p.Get("custom_scheme"),
		NewSecret:      strings.TrimSpace(p.Get("secret")),
		Keep:           make([]bool, n),
		Version:        p.Get("version"),
		Tolerance:      strings.TrimSpace(p.Get("tolerance_seconds")),
		DedupeWindow:   strings.TrimSpace(p.Get("dedupe_window_seconds")),
		SlackChallenge: p.Get("slack_challenge") != "",
		ZoomSecret:     strings.TrimSpace(p.Get("zoom_secret")),
		ZoomOff:        p.Get("zoom_off") != "",
		Remove:         p["remove_destination"],
	}
	for _, k := range p["keep_secret"] {
		if i, err := strconv.Atoi(k); err == nil && i >= 0 && i < n {
			f.Keep[i] = true
		}
	}
	urls, destSchemes := p["dest_url"], p["dest_scheme"]
	for i, raw := range urls {
		row := destinationRow{URL: strings.TrimSpace(raw), Scheme: schemes.None}
		if i < len(destSchemes) {
			row.Scheme = destSchemes[i]
		}
		f.New = append(f.New, row)
	}
	return f
}

// parseSeconds reads a number of seconds typed in the form; "" is 0.
func parseSeconds(label, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%s must be a whole number of seconds", label)
	}
	return rules.Seconds(n), nil // out of range stays out of range
}

// formWindows reads the tolerance and dedupe window of the form.
func formWindows(f sourceForm) (tol, dedupe time.Duration, errs []string) {
	tol, err1 := parseSeconds("Replay tolerance", f.Tolerance)
	dedupe, err2 := parseSeconds("Dedupe window", f.DedupeWindow)
	for _, err := range []error{err1, err2} {
		if err != nil {
			errs = append(errs, err.Error())
		}
	}
	return tol, dedupe, errs
}

// newDestinations reads the form's rows of new destinations.
func newDestinations(f sourceForm) []rules.DestinationSpec {
	var out []rules.DestinationSpec
	for _, d := range f.New {
		if d.URL != "" {
			out = append(out, rules.DestinationSpec{URL: d.URL, Scheme: d.Scheme})
		}
	}
	return out
}

// newSource shows an empty source form.
func (u *UI) newSource(w http.ResponseWriter, r *http.Request, s *session) error {
	f := sourceForm{Scheme: schemes.Default}
	u.render(w, r, s, http.StatusOK, "source_form", newSourceFormData(f, nil, nil, nil))
	return nil
}

// createSource creates a source and its destinations from the form, in
// one transaction. A secret generated for it is shown once, on the page
// this answers with.
func (u *UI) createSource(w http.ResponseWriter, r *http.Request, s *session) error {
	f := readSourceForm(r, 0)
	tol, dedupe, errs := formWindows(f)
	var made *rules.NewSource
	if len(errs) == 0 {
		spec := rules.SourceSpec{
			Name: f.Name, Description: f.Description, Scheme: f.Scheme, CustomScheme: []byte(strings.TrimSpace(f.CustomScheme)),
			Tolerance: tol, DedupeWindow: dedupe, SlackChallenge: f.SlackChallenge, ZoomSecret: f.ZoomSecret,
			Destinations: newDestinations(f),
		}
		if spec.Scheme != schemes.Custom {
			spec.CustomScheme = nil
		}
		if f.NewSecret != "" {
			spec.Secrets = []string{f.NewSecret}
		}
		var err error
		made, err = u.rules.CreateSource(r.Context(), spec)
		switch {
		case errors.Is(err, store.ErrConflict):
			errs = []string{fmt.Sprintf("a source called %q exists already", f.Name)}
		case err != nil:
			if errs = messages(err); errs == nil {
				return fmt.Errorf("create source: %w", err)
			}
		}
	}
	if len(errs) > 0 {
		f.NewSecret, f.ZoomSecret = "", ""
		u.render(w, r, s, http.StatusUnprocessableEntity, "source_form", newSourceFormData(f, nil, nil, errs))
		return nil
	}
	src := made.Source
	u.log.InfoContext(r.Context(), "ui: source created", "source_id", src.ID, "source", src.Name, "destinations", len(made.Destinations))
	if made.Secret != "" {
		return u.renderSource(w, r, s, http.StatusCreated, src, made.Secret)
	}
	u.redirect(w, r, u.path("/sources/%s", src.ID), "source_created", -1)
	return nil
}

// editSource shows the form of a source.
func (u *UI) editSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	dests, err := u.rules.Destinations(r.Context(), src)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "source_form", newSourceFormData(formFromSource(src), src, dests, nil))
	return nil
}

// updateSource saves the source form: the settings and the destinations
// removed and added, in one transaction, and only if the source is still
// as the form was filled from (its version). The name never changes.
func (u *UI) updateSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	f := readSourceForm(r, len(src.Secrets))
	tol, dedupe, errs := formWindows(f)
	version, verr := strconv.ParseInt(f.Version, 10, 64)
	if verr != nil {
		errs = append(errs, "the form has no version: reload the page and make your changes again")
	}
	if len(f.Remove) > 0 {
		dests, err := u.rules.Destinations(r.Context(), src)
		if err != nil {
			return err
		}
		for _, id := range f.Remove {
			if !slices.ContainsFunc(dests, func(e *store.Endpoint) bool { return e.ID == id }) {
				errs = append(errs, "a destination to remove is no longer there: reload the page")
				break
			}
		}
	}
	if len(errs) == 0 {
		ch := rules.SourceChange{IfUpdatedAt: new(time.UnixMilli(version)), RemoveDestinations: f.Remove, AddDestinations: newDestinations(f)}
		if f.Description != src.Description {
			ch.Description = &f.Description
		}
		custom := strings.TrimSpace(f.CustomScheme)
		if f.Scheme != src.Scheme || (f.Scheme == schemes.Custom && custom != string(src.CustomScheme)) {
			ch.Scheme = &f.Scheme
			if f.Scheme == schemes.Custom {
				ch.CustomScheme = []byte(custom)
			}
		}
		var values []string
		if f.NewSecret != "" {
			values = append(values, f.NewSecret)
		}
		changed := f.NewSecret != ""
		for i, keep := range f.Keep {
			if keep {
				values = append(values, src.Secrets[i].Value)
			} else {
				changed = true
			}
		}
		if changed {
			ch.Secrets = &values
		}
		if tol != src.Tolerance {
			ch.Tolerance = &tol
		}
		if dedupe != src.DedupeWindow && (dedupe != 0 || f.DedupeWindow != "") {
			ch.DedupeWindow = &dedupe
		}
		if f.SlackChallenge != src.SlackChallenge {
			ch.SlackChallenge = &f.SlackChallenge
		}
		switch {
		case f.ZoomSecret != "":
			ch.ZoomSecret = &f.ZoomSecret
		case f.ZoomOff:
			ch.ZoomSecret = new("")
		}
		_, err = u.rules.UpdateSource(r.Context(), src.ID, ch)
		switch {
		case errors.Is(err, rules.ErrChanged):
			errs = []string{"the source was changed since this form was opened: reload the page and make your changes again"}
		case err != nil:
			if errs = messages(err); errs == nil {
				return notFoundOr(err, "update source", src.ID)
			}
		}
	}
	if len(errs) > 0 {
		dests, err := u.rules.Destinations(r.Context(), src)
		if err != nil {
			return err
		}
		f.NewSecret, f.ZoomSecret, f.Name = "", "", src.Name
		f.Version = strconv.FormatInt(src.UpdatedAt.UnixMilli(), 10)
		u.render(w, r, s, http.StatusUnprocessableEntity, "source_form", newSourceFormData(f, src, dests, errs))
		return nil
	}
	u.log.InfoContext(r.Context(), "ui: source updated", "source_id", src.ID, "source", src.Name)
	u.redirect(w, r, u.path("/sources/%s", src.ID), "source_updated", -1)
	return nil
}

// confirmSourceData is the source delete confirmation's content.
type confirmSourceData struct {
	S            *store.Source
	Destinations int
}

// confirmDeleteSource asks before deleting a source, saying how many
// destinations go with it.
func (u *UI) confirmDeleteSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	dests, err := u.rules.Destinations(r.Context(), src)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "source_delete", &confirmSourceData{S: src, Destinations: len(dests)})
	return nil
}

// deleteSource deletes a source as the API does: its destinations (which
// cancels their pending deliveries), the source and its rejections, in
// one transaction.
func (u *UI) deleteSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	if err := u.rules.DeleteSource(r.Context(), src.ID); err != nil {
		return notFoundOr(err, "delete source", src.ID)
	}
	u.log.InfoContext(r.Context(), "ui: source deleted", "source_id", src.ID, "source", src.Name)
	u.redirect(w, r, u.path("/sources"), "source_deleted", -1)
	return nil
}
