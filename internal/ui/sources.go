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

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/inbound"
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
	if sc, _, _, err := resolveScheme(src.Scheme, string(src.CustomScheme)); err == nil {
		sigHeaders = sc.Headers()
		if data.Tolerance == 0 {
			data.Tolerance = sc.Tolerance()
		}
	}
	var err error
	if data.Destinations, err = inbound.Destinations(ctx, u.store, src); err != nil {
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
		f.New = append(f.New, destinationRow{Scheme: delivery.SchemeNone})
	}
	return &sourceFormData{
		Form: f, Source: src, Destinations: dests, Errors: errs,
		Schemes:     schemeChoices(),
		DestSchemes: append([]string{delivery.SchemeNone}, signature.Names()...),
		Limits: sourceLimits{
			MaxTolerance:  int64(inbound.MaxTolerance / time.Second),
			MaxDedupe:     int64(inbound.MaxDedupeWindow / time.Second),
			DefaultDedupe: int64(inbound.DefaultDedupeWindow / time.Second),
			MaxSecrets:    inbound.MaxSecrets,
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
	urls, schemes := p["dest_url"], p["dest_scheme"]
	for i, raw := range urls {
		row := destinationRow{URL: strings.TrimSpace(raw), Scheme: delivery.SchemeNone}
		if i < len(schemes) {
			row.Scheme = schemes[i]
		}
		f.New = append(f.New, row)
	}
	return f
}

// settingLabels name inbound's settings as the form's labels do.
var settingLabels = map[string]string{
	inbound.SettingTolerance:    "Replay tolerance",
	inbound.SettingDedupeWindow: "Dedupe window",
	inbound.SettingSecrets:      "Secrets",
	inbound.SettingSecret:       "The re-signing secret",
}

// settingMessage says an *inbound.SettingError in the form's words; other
// errors are said as they are.
func settingMessage(err error) string {
	se, ok := errors.AsType[*inbound.SettingError](err)
	if !ok {
		return err.Error()
	}
	if se.Index >= 0 {
		return fmt.Sprintf("Secret %d (newest first) %s", se.Index+1, se.Reason)
	}
	return settingLabels[se.Setting] + " " + se.Reason
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
	return inbound.Seconds(n), nil // out of range stays out of range
}

// sourceChanges is what a valid source form asks for beyond the source
// itself: destinations to create and to delete, and the secret generated
// for a new source, to show once.
type sourceChanges struct {
	create    []*store.Endpoint
	remove    []*store.Endpoint
	generated string
}

// applySourceForm checks f and copies it onto src (a new source when
// creating, with no secrets), with the rules the API applies
// (internal/inbound's), returning the problems found, for people.
func (u *UI) applySourceForm(r *http.Request, f sourceForm, src *store.Source, dests []*store.Endpoint, creating bool) (sourceChanges, []string) {
	var (
		ch   sourceChanges
		errs []string
	)
	add := func(err error) {
		if err != nil {
			errs = append(errs, settingMessage(err))
		}
	}
	now := u.now()
	if creating {
		if !store.ValidSourceName(f.Name) {
			add(errors.New("name must be 1 to 63 lowercase letters, digits and hyphens, not starting with a hyphen"))
		} else {
			src.Name = f.Name
		}
	} else if f.Version != strconv.FormatInt(src.UpdatedAt.UnixMilli(), 10) {
		add(errors.New("the source was changed since this form was opened: reload the page and make your changes again"))
		return ch, errs
	}
	if err := checkText("description", f.Description, maxDescriptionLen); err != nil {
		add(err)
	} else {
		src.Description = f.Description
	}
	if err := checkText("Zoom secret token", f.ZoomSecret, maxSecretLen); err != nil {
		add(err)
	} else if f.ZoomSecret != "" {
		src.ZoomSecret = store.Secret{Value: f.ZoomSecret, CreatedAt: now}
	} else if f.ZoomOff {
		src.ZoomSecret = store.Secret{}
	}
	src.SlackChallenge = f.SlackChallenge

	for _, id := range f.Remove {
		i := slices.IndexFunc(dests, func(e *store.Endpoint) bool { return e.ID == id })
		if i < 0 {
			add(errors.New("a destination to remove is no longer there: reload the page"))
			continue
		}
		ch.remove = append(ch.remove, dests[i])
	}
	var rows []destinationRow
	for _, d := range f.New {
		if d.URL != "" {
			rows = append(rows, d)
		}
	}
	if len(rows) > inbound.MaxDestinations {
		add(fmt.Errorf("at most %d destinations can be added at once", inbound.MaxDestinations))
		rows = nil
	}
	for i, d := range rows {
		if ep, err := u.newDestination(r, src, d, now); err != nil {
			add(fmt.Errorf("new destination %d: %s", i+1, settingMessage(err)))
		} else {
			ch.create = append(ch.create, ep)
		}
	}

	scheme, name, custom, err := resolveScheme(f.Scheme, f.CustomScheme)
	if err != nil {
		add(err)
		return ch, errs
	}
	src.Scheme, src.CustomScheme = name, custom
	var values []string
	if f.NewSecret != "" {
		values = append(values, f.NewSecret)
	} else if creating {
		if ch.generated, err = signature.GenerateSecret(scheme); err != nil {
			add(fmt.Errorf("generate a secret for scheme %s: %v", scheme.Name(), err))
			return ch, errs
		}
		values = append(values, ch.generated)
	}
	var kept []store.Secret
	for i, keep := range f.Keep {
		if keep && i < len(src.Secrets) {
			kept = append(kept, src.Secrets[i])
			values = append(values, src.Secrets[i].Value)
		}
	}
	secrets, err := inbound.CheckSecrets(scheme, values, now)
	if err != nil {
		add(err)
	} else {
		// Kept secrets keep their times.
		copy(secrets[len(secrets)-len(kept):], kept)
		src.Secrets = secrets
	}
	tol, err1 := parseSeconds("Replay tolerance", f.Tolerance)
	dedupe, err2 := parseSeconds("Dedupe window", f.DedupeWindow)
	if err := errors.Join(err1, err2); err != nil {
		add(err)
		return ch, errs
	}
	if dedupe, err = inbound.CheckWindows(scheme, tol, dedupe); err != nil {
		add(err)
	} else {
		src.Tolerance, src.DedupeWindow = tol, dedupe
	}
	return ch, errs
}

// newDestination checks a destination row and returns its endpoint, not
// yet stored. Re-signing destinations get a generated secret, which the
// endpoint's page reveals.
func (u *UI) newDestination(r *http.Request, src *store.Source, d destinationRow, now time.Time) (*store.Endpoint, error) {
	if err := u.checkURL(r.Context(), d.URL); err != nil {
		return nil, err
	}
	dest := inbound.Destination{URL: d.URL}
	if d.Scheme != "" && d.Scheme != delivery.SchemeNone {
		sc, err := signature.Lookup(d.Scheme)
		if err != nil {
			return nil, fmt.Errorf("unknown re-signing scheme %q", d.Scheme)
		}
		dest.Scheme = sc
	}
	// The error is said to people as it is (settingMessage).
	ep, _, err := inbound.NewDestination(src, dest, now)
	return ep, err
}

// newSource shows an empty source form.
func (u *UI) newSource(w http.ResponseWriter, r *http.Request, s *session) error {
	f := sourceForm{Scheme: defaultSchemeName}
	u.render(w, r, s, http.StatusOK, "source_form", newSourceFormData(f, nil, nil, nil))
	return nil
}

// createSource creates a source and its destinations from the form. A
// secret generated for it is shown once, on the page this answers with.
func (u *UI) createSource(w http.ResponseWriter, r *http.Request, s *session) error {
	f := readSourceForm(r, 0)
	now := u.now()
	src := &store.Source{ID: store.NewID("src"), CreatedAt: now, UpdatedAt: now}
	ch, errs := u.applySourceForm(r, f, src, nil, true)
	if len(errs) == 0 {
		err := u.store.CreateSource(r.Context(), src, ch.create)
		if errors.Is(err, store.ErrConflict) {
			errs = append(errs, fmt.Sprintf("a source called %q exists already", src.Name))
		} else if err != nil {
			return fmt.Errorf("create source: %w", err)
		}
	}
	if len(errs) > 0 {
		f.NewSecret, f.ZoomSecret = "", ""
		u.render(w, r, s, http.StatusUnprocessableEntity, "source_form", newSourceFormData(f, nil, nil, errs))
		return nil
	}
	u.log.InfoContext(r.Context(), "ui: source created", "source_id", src.ID, "source", src.Name, "destinations", len(ch.create))
	if ch.generated != "" {
		return u.renderSource(w, r, s, http.StatusCreated, src, ch.generated)
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
	dests, err := inbound.Destinations(r.Context(), u.store, src)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "source_form", newSourceFormData(formFromSource(src), src, dests, nil))
	return nil
}

// updateSource saves the source form: the settings, then the destinations
// removed and added. The name never changes.
func (u *UI) updateSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	dests, err := inbound.Destinations(r.Context(), u.store, src)
	if err != nil {
		return err
	}
	orig := *src
	f := readSourceForm(r, len(src.Secrets))
	ch, errs := u.applySourceForm(r, f, src, dests, false)
	if len(errs) > 0 {
		f.NewSecret, f.ZoomSecret, f.Name = "", "", orig.Name
		f.Version = strconv.FormatInt(orig.UpdatedAt.UnixMilli(), 10)
		u.render(w, r, s, http.StatusUnprocessableEntity, "source_form", newSourceFormData(f, &orig, dests, errs))
		return nil
	}
	src.UpdatedAt = u.now()
	patch := store.SourcePatchOf(src)
	if src, err = u.store.UpdateSource(r.Context(), orig.ID, func(*store.Source) (store.SourcePatch, error) {
		return patch, nil
	}); err != nil {
		return notFoundOr(err, "update source", orig.ID)
	}
	for _, e := range ch.remove {
		if err := u.store.DeleteEndpoint(r.Context(), e.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("update source %s: remove destination %s: %w", src.ID, e.ID, err)
		}
	}
	for _, ep := range ch.create {
		if err := u.store.CreateEndpoint(r.Context(), ep); err != nil {
			return fmt.Errorf("update source %s: add destination: %w", src.ID, err)
		}
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
	dests, err := inbound.Destinations(r.Context(), u.store, src)
	if err != nil {
		return err
	}
	u.render(w, r, s, http.StatusOK, "source_delete", &confirmSourceData{S: src, Destinations: len(dests)})
	return nil
}

// deleteSource deletes a source as the API does: its destinations (which
// cancels their pending deliveries), then the source and its rejections.
func (u *UI) deleteSource(w http.ResponseWriter, r *http.Request, s *session) error {
	src, err := u.sourceFor(r)
	if err != nil {
		return err
	}
	if err := inbound.DeleteSource(r.Context(), u.store, src); err != nil {
		return notFoundOr(err, "delete source", src.ID)
	}
	u.log.InfoContext(r.Context(), "ui: source deleted", "source_id", src.ID, "source", src.Name)
	u.redirect(w, r, u.path("/sources"), "source_deleted", -1)
	return nil
}
