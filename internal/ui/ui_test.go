package ui

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/inbound"
	"github.com/hookrelay/hookrelay/internal/secretbox"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/internal/store/sqlite"
	"github.com/hookrelay/hookrelay/signature"
)

// testClock is a settable clock, safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testBundle is one dashboard on a fresh SQLite store.
type testBundle struct {
	t        *testing.T
	st       *sqlite.Store
	ui       *UI
	srv      *httptest.Server
	clock    *testClock
	adminKey string
	notified chan struct{}
}

type bundleOptions struct {
	// mutate changes the Config before New.
	mutate func(*Config)
	// denyPrivate refuses endpoints on private networks.
	denyPrivate bool
	// wrap, if set, wraps the store the UI gets.
	wrap func(*sqlite.Store) store.Store
}

// openStore opens an empty SQLite store in t's temporary directory.
func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	rand.Read(key)
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "hookrelay.db"), &sqlite.Config{Cipher: box, SearchFields: []string{"amount"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// createAPIKey stores an API key and returns it.
func createAPIKey(t testing.TB, st store.Store, now time.Time) (string, *store.APIKey) {
	t.Helper()
	key := "hr_test_" + rand.Text()
	k := &store.APIKey{ID: store.NewID("key"), Name: "test", Hash: hashKey(key), Prefix: key[:10], CreatedAt: now}
	if err := st.CreateAPIKey(context.Background(), k); err != nil {
		t.Fatal(err)
	}
	return key, k
}

type notifyFunc func()

func (f notifyFunc) Notify() { f() }

func setup(t *testing.T, opts *bundleOptions) *testBundle {
	t.Helper()
	st := openStore(t)
	b := &testBundle{t: t, st: st, clock: &testClock{t: time.Now().Truncate(time.Millisecond)}, notified: make(chan struct{}, 100)}
	b.adminKey, _ = createAPIKey(t, st, b.clock.Now())
	var s store.Store = st
	if opts != nil && opts.wrap != nil {
		s = opts.wrap(st)
	}
	sessionKey := make([]byte, 32)
	rand.Read(sessionKey)
	cfg := Config{
		Store:                s,
		Notifier:             notifyFunc(func() { b.notified <- struct{}{} }),
		SessionKey:           sessionKey,
		AllowPrivateNetworks: opts == nil || !opts.denyPrivate,
		Now:                  b.clock.Now,
	}
	if opts != nil && opts.mutate != nil {
		opts.mutate(&cfg)
	}
	u, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.ui = u
	b.srv = httptest.NewServer(u)
	t.Cleanup(b.srv.Close)
	return b
}

// client is a browser stand-in: it keeps cookies and does not follow
// redirects, so that tests see them.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	// header is added to every request.
	header http.Header
}

func (b *testBundle) client() *client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return &client{t: b.t, base: b.srv.URL, header: http.Header{}, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// response is a page as fetched.
type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *client) do(method, path string, form url.Values) *response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &response{status: res.StatusCode, body: string(b), location: res.Header.Get("Location"), header: res.Header}
}

func (c *client) get(path string) *response { return c.do("GET", path, nil) }

// post posts form with the CSRF token of the page csrfFrom.
func (c *client) post(path string, form url.Values, csrfFrom string) *response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf(csrfFrom))
	return c.do("POST", path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token in the forms of page.
func (c *client) csrf(page string) string {
	c.t.Helper()
	r := c.get(page)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s: %d, no CSRF token in the page:\n%s", page, r.status, r.body)
	}
	return m[1]
}

// login signs the client in with key.
func (c *client) login(key string) {
	c.t.Helper()
	r := c.post("/ui/login", url.Values{"api_key": {key}}, "/ui/login")
	if r.status != http.StatusSeeOther || r.location != "/ui/" {
		c.t.Fatalf("sign in: %d %q\n%s", r.status, r.location, r.body)
	}
}

// portal opens a portal link for tenant.
func (b *testBundle) portal(tenant string) *client {
	b.t.Helper()
	p, err := b.ui.MintPortalLink(tenant, 0)
	if err != nil {
		b.t.Fatal(err)
	}
	c := b.client()
	c.openPortal(p)
	return c
}

// openPortal opens the portal link p: its page, then the confirming POST.
func (c *client) openPortal(p string) {
	c.t.Helper()
	r := c.post(p, nil, p)
	if r.status != http.StatusSeeOther || r.location != "/ui/endpoints" {
		c.t.Fatalf("open portal link: %d %q\n%s", r.status, r.location, r.body)
	}
}

func (b *testBundle) admin() *client {
	c := b.client()
	c.login(b.adminKey)
	return c
}

// endpoint stores an endpoint of tenant.
func (b *testBundle) endpoint(tenant, rawURL, description string) *store.Endpoint {
	b.t.Helper()
	now := b.clock.Now()
	e := &store.Endpoint{
		ID: store.NewID("ep"), Tenant: tenant, URL: rawURL, Description: description, Scheme: "standard",
		Secrets:   []store.Secret{{Value: "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: now}},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := b.st.CreateEndpoint(context.Background(), e); err != nil {
		b.t.Fatal(err)
	}
	return e
}

// deliver creates an event of tenant and records one attempt for each of
// its deliveries with status code and response body, leaving them in
// status.
func (b *testBundle) deliver(tenant string, code int, body string, status store.DeliveryStatus) []*store.Delivery {
	b.t.Helper()
	ctx := context.Background()
	now := b.clock.Now()
	ev := &store.Event{ID: store.NewID("evt"), Tenant: tenant, Type: "invoice.paid", Payload: []byte(`{"amount":42}`), CreatedAt: now}
	_, ds, err := b.st.CreateEvent(ctx, ev, time.Time{})
	if err != nil {
		b.t.Fatal(err)
	}
	b.completeDue(code, body, status)
	return ds
}

// completeDue records one attempt for each due delivery, with status code
// and response body, leaving them in status.
func (b *testBundle) completeDue(code int, body string, status store.DeliveryStatus) {
	b.t.Helper()
	ctx := context.Background()
	now := b.clock.Now()
	jobs, err := b.st.ClaimDueDeliveries(ctx, store.ClaimParams{Now: now, Lease: time.Minute, Limit: 100})
	if err != nil {
		b.t.Fatal(err)
	}
	var results []store.AttemptResult
	for _, j := range jobs {
		results = append(results, store.AttemptResult{
			DeliveryID: j.Delivery.ID, Claim: j.Delivery.Claim, Status: status, NextAttemptAt: now.Add(time.Hour),
			Attempt: store.Attempt{
				ID: store.NewID("att"), DeliveryID: j.Delivery.ID, EndpointID: j.Endpoint.ID, EventID: j.Event.ID,
				Number: j.Delivery.Attempts + 1, StartedAt: now, Duration: 12 * time.Millisecond, URL: j.Endpoint.URL,
				RequestHeaders: map[string]string{"Webhook-Signature": "v1,abc", "Content-Type": "application/json"},
				StatusCode:     code, ResponseBody: []byte(body), Trigger: "scheduled",
			},
		})
	}
	if _, err := b.st.CompleteAttempts(ctx, results); err != nil {
		b.t.Fatal(err)
	}
}

func TestSignInAndOut(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.client()

	r := c.get("/ui/")
	if r.status != http.StatusSeeOther || r.location != "/ui/login" {
		t.Fatalf("GET /ui/ signed out: %d %q, want 303 to /ui/login", r.status, r.location)
	}
	r = c.get("/ui/login")
	if r.status != http.StatusOK || !strings.Contains(r.body, `<label for="api_key">`) {
		t.Fatalf("GET /ui/login: %d\n%s", r.status, r.body)
	}

	r = c.post("/ui/login", url.Values{"api_key": {"hr_not_a_real_key_at_all"}}, "/ui/login")
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "not valid") {
		t.Fatalf("wrong key: %d\n%s", r.status, r.body)
	}

	form := url.Values{"api_key": {b.adminKey}, "csrf": {c.csrf("/ui/login")}}
	r = c.do("POST", "/ui/login", form)
	if r.status != http.StatusSeeOther || r.location != "/ui/" {
		t.Fatalf("sign in: %d %q", r.status, r.location)
	}
	var cookie *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == cookieName {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/ui/" {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Lax, Path=/ui/", cookie)
	}
	r = c.get("/ui/")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Admin · all tenants") {
		t.Fatalf("GET /ui/ signed in: %d\n%s", r.status, r.body)
	}

	r = c.post("/ui/logout", nil, "/ui/")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/login") {
		t.Fatalf("sign out: %d %q", r.status, r.location)
	}
	if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Fatalf("GET /ui/endpoints after sign-out: %d, want 303", r.status)
	}
}

func TestSecureCookie(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.ui.secure = true
	r := b.client().get("/ui/login")
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == cookieName && !ck.Secure {
			t.Fatalf("session cookie with Config.Secure = %+v, want Secure", ck)
		}
	}
}

func TestRevokedKeyEndsSession(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	key, k := createAPIKey(t, b.st, b.clock.Now())
	c := b.client()
	c.login(key)
	if r := c.get("/ui/endpoints"); r.status != http.StatusOK {
		t.Fatalf("GET /ui/endpoints: %d", r.status)
	}
	if err := b.st.RevokeAPIKey(context.Background(), k.ID, b.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther || r.location != "/ui/login" {
		t.Fatalf("GET /ui/endpoints with a revoked key: %d %q, want 303 to /ui/login", r.status, r.location)
	}
}

func TestSessionExpiresAndCookieForgery(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	u, _ := url.Parse(b.srv.URL + "/ui/")
	cookies := c.hc.Jar.Cookies(u)
	if len(cookies) != 1 {
		t.Fatalf("cookies = %v", cookies)
	}
	value := cookies[0].Value

	// A tenant session made by flipping the signed payload does not verify.
	payload, mac, _ := strings.Cut(value, ".")
	forged := b.client()
	forgedPayload := strings.Replace(payload, "YWRtaW4", "dGVuYW50", 1)
	forged.hc.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: forgedPayload + "." + mac, Path: "/ui/"}})
	if r := forged.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Fatalf("forged cookie: %d, want 303 to sign in", r.status)
	}
	// Nor does the cookie under another dashboard's key.
	other := setup(t, nil)
	stolen := other.client()
	ou, _ := url.Parse(other.srv.URL + "/ui/")
	stolen.hc.Jar.SetCookies(ou, []*http.Cookie{{Name: cookieName, Value: value, Path: "/ui/"}})
	if r := stolen.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Fatalf("cookie of another key: %d, want 303 to sign in", r.status)
	}

	b.clock.Add(AdminSessionTTL + time.Second)
	if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Fatalf("expired session: %d, want 303 to sign in", r.status)
	}
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	form := func() url.Values {
		return url.Values{"url": {"http://127.0.0.1:9/hook"}, "scheme": {"standard"}, "enabled": {"1"}}
	}
	count := func() int {
		eps, _, err := b.st.ListEndpoints(context.Background(), store.EndpointFilter{})
		if err != nil {
			t.Fatal(err)
		}
		return len(eps)
	}

	// No token, a wrong token, the token of another session.
	if r := c.do("POST", "/ui/endpoints", form()); r.status != http.StatusForbidden {
		t.Errorf("POST without a token: %d, want 403", r.status)
	}
	f := form()
	f.Set("csrf", "x"+c.csrf("/ui/endpoints/new"))
	if r := c.do("POST", "/ui/endpoints", f); r.status != http.StatusForbidden {
		t.Errorf("POST with a wrong token: %d, want 403", r.status)
	}
	other := b.admin()
	f = form()
	f.Set("csrf", other.csrf("/ui/endpoints/new"))
	if r := c.do("POST", "/ui/endpoints", f); r.status != http.StatusForbidden {
		t.Errorf("POST with another session's token: %d, want 403", r.status)
	}
	// The anonymous session's token stops working once signed in.
	anon := b.client()
	anonToken := anon.csrf("/ui/login")
	anon.login(b.adminKey)
	f = form()
	f.Set("csrf", anonToken)
	if r := anon.do("POST", "/ui/endpoints", f); r.status != http.StatusForbidden {
		t.Errorf("POST with the pre-sign-in token: %d, want 403", r.status)
	}
	// A cross-site POST with the right token: http.CrossOriginProtection.
	f = form()
	f.Set("csrf", c.csrf("/ui/endpoints/new"))
	c.header.Set("Sec-Fetch-Site", "cross-site")
	if r := c.do("POST", "/ui/endpoints", f); r.status != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", r.status)
	}
	c.header.Del("Sec-Fetch-Site")
	if n := count(); n != 0 {
		t.Fatalf("%d endpoints created by refused requests", n)
	}
	if r := c.post("/ui/endpoints", form(), "/ui/endpoints/new"); r.status != http.StatusSeeOther {
		t.Fatalf("POST with the token: %d\n%s", r.status, r.body)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d endpoints, want 1", n)
	}
	// The sign-in form is protected too.
	if r := b.client().do("POST", "/ui/login", url.Values{"api_key": {b.adminKey}}); r.status != http.StatusForbidden {
		t.Errorf("sign in without a token: %d, want 403", r.status)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, p := range []string{"/ui/login", "/ui/static/style.css", "/ui/nothing"} {
		r := b.client().get(p)
		h := r.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	r := b.client().get("/ui/login")
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") {
		t.Errorf("the page has inline script or style, which the CSP forbids:\n%s", r.body)
	}
	if r := b.client().get("/ui/static/app.js"); r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Type"), "javascript") {
		t.Errorf("GET app.js: %d %s", r.status, r.header.Get("Content-Type"))
	}
	if r := b.client().get("/ui/static/"); r.status != http.StatusNotFound {
		t.Errorf("GET /ui/static/: %d, want 404 (no listing)", r.status)
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	const evil = `<script>alert("x")</script>`
	e := b.endpoint("", "http://127.0.0.1:9/"+evil, "desc "+evil)
	ds := b.deliver("", 500, "body "+evil, store.StatusFailed)
	c := b.admin()

	// Through the form as well.
	r := c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/x"}, "description": {evil}, "event_types": {"a.b"}, "scheme": {"standard"}}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	pages := []string{"/ui/", "/ui/endpoints", "/ui/endpoints/" + e.ID, "/ui/endpoints/" + e.ID + "/edit", "/ui/endpoints/" + e.ID + "/delete",
		"/ui/deliveries", "/ui/deliveries/" + ds[0].ID, r.location}
	for _, p := range pages {
		r := c.get(p)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", p, r.status)
			continue
		}
		if strings.Contains(r.body, "<script>alert") {
			t.Errorf("GET %s: unescaped <script> in the page", p)
		}
		if !strings.Contains(r.body, "&lt;script&gt;alert") && !strings.Contains(r.body, "%3cscript%3ealert") {
			t.Errorf("GET %s: the escaped text is missing", p)
		}
	}
	// The response body, on the delivery page.
	r = c.get("/ui/deliveries/" + ds[0].ID)
	if !strings.Contains(r.body, "body &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Errorf("delivery page does not show the response body escaped:\n%s", r.body)
	}
	// Diagnose output and pasted input, on the verification helper.
	r = c.post("/ui/verify", url.Values{"headers": {"X-Evil: " + evil}, "body": {evil}, "secrets": {evil}}, "/ui/verify")
	if strings.Contains(r.body, "<script>alert") {
		t.Errorf("verify page: unescaped <script>")
	}
	// The flash message comes from a fixed list, never from the URL.
	r = c.get("/ui/verify?flash=" + url.QueryEscape(evil))
	if strings.Contains(r.body, "alert") || strings.Contains(r.body, `class="flash"`) {
		t.Errorf("flash reflected from the URL")
	}
}

func TestEndpointLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	ctx := context.Background()

	// Refused input is shown back with the reasons.
	r := c.post("/ui/endpoints", url.Values{"url": {"ftp://example.com"}, "event_types": {"a*b"}, "scheme": {"nope"}}, "/ui/endpoints/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "absolute http") || !strings.Contains(r.body, "unknown scheme") || !strings.Contains(r.body, "is allowed only") {
		t.Fatalf("bad form: %d\n%s", r.status, r.body)
	}

	r = c.post("/ui/endpoints", url.Values{
		"url": {"http://127.0.0.1:9/hook"}, "description": {"orders"}, "tenant": {"acme"},
		"scheme": {"github"}, "event_types": {"order.created, order.*"}, "enabled": {"1"},
	}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/endpoints/ep_") {
		t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
	}
	page := strings.Split(r.location, "?")[0]
	id := strings.TrimPrefix(page, "/ui/endpoints/")
	e, err := b.st.GetEndpoint(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if e.Tenant != "acme" || e.Scheme != "github" || strings.Join(e.EventTypes, ",") != "order.created,order.*" || e.Disabled || len(e.Secrets) != 1 || e.Secrets[0].Value == "" {
		t.Fatalf("created %+v", e)
	}
	r = c.get(r.location)
	if !strings.Contains(r.body, "Endpoint created.") || strings.Contains(r.body, e.Secrets[0].Value) {
		t.Fatalf("endpoint page: want the flash and no secret")
	}

	// Reveal.
	r = c.post(page+"/secret/reveal", nil, page)
	if r.status != http.StatusOK || !strings.Contains(r.body, e.Secrets[0].Value) {
		t.Fatalf("reveal: %d, secret not shown", r.status)
	}

	// Rotate with an overlap: the old secret keeps signing for an hour.
	old := e.Secrets[0].Value
	r = c.post(page+"/secret/rotate", url.Values{"overlap": {"1h"}}, page)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Secret rotated") {
		t.Fatalf("rotate: %d\n%s", r.status, r.body)
	}
	e, _ = b.st.GetEndpoint(ctx, id)
	if len(e.Secrets) != 2 || e.Secrets[1].Value != old || e.Secrets[0].Value == old || e.Secrets[1].ExpiresAt == nil ||
		!e.Secrets[1].ExpiresAt.Equal(b.clock.Now().Add(time.Hour)) {
		t.Fatalf("after rotation: %+v", e.Secrets)
	}
	if !strings.Contains(r.body, e.Secrets[0].Value) {
		t.Fatalf("rotation page does not show the new secret")
	}
	// Rotate to a given secret, without overlap.
	r = c.post(page+"/secret/rotate", url.Values{"overlap": {"0"}, "secret": {"my-own-github-secret"}}, page)
	if r.status != http.StatusOK {
		t.Fatalf("rotate to a given secret: %d\n%s", r.status, r.body)
	}
	e, _ = b.st.GetEndpoint(ctx, id)
	if len(e.Secrets) != 1 || e.Secrets[0].Value != "my-own-github-secret" {
		t.Fatalf("after rotation to a given secret: %d secrets", len(e.Secrets))
	}

	// Edit: disable, change the filter; the tenant cannot change.
	r = c.post(page, url.Values{"url": {"http://127.0.0.1:9/hook2"}, "description": {"orders v2"}, "tenant": {"globex"}, "scheme": {"github"}, "event_types": {""}}, page+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	e, _ = b.st.GetEndpoint(ctx, id)
	if e.URL != "http://127.0.0.1:9/hook2" || e.Description != "orders v2" || e.Tenant != "acme" || !e.Disabled || e.DisabledReason != "manual" || len(e.EventTypes) != 0 {
		t.Fatalf("after edit: %+v", e)
	}
	// Switching to a scheme the secret does not fit needs a new secret.
	r = c.post(page, url.Values{"url": {e.URL}, "scheme": {"standard"}, "enabled": {"1"}}, page+"/edit")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not valid for scheme") {
		t.Fatalf("scheme change without a secret: %d\n%s", r.status, r.body)
	}
	// A test event to a disabled endpoint is refused.
	if r := c.post(page+"/test", nil, page); r.status != http.StatusConflict {
		t.Fatalf("test to a disabled endpoint: %d", r.status)
	}

	// Delete, after a confirmation page.
	r = c.get(page + "/delete")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Delete this endpoint?") {
		t.Fatalf("confirm page: %d", r.status)
	}
	r = c.post(page+"/delete", nil, page+"/delete")
	if r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if _, err := b.st.GetEndpoint(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if r := c.get(page); r.status != http.StatusNotFound {
		t.Fatalf("deleted endpoint's page: %d", r.status)
	}
}

func TestPrivateNetworkRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, &bundleOptions{denyPrivate: true})
	c := b.admin()
	r := c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/hook"}, "scheme": {"standard"}}, "/ui/endpoints/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "forbidden address") {
		t.Fatalf("private URL: %d\n%s", r.status, r.body)
	}
}

// tenantFixture is two tenants' endpoints, each with a failed delivery.
type tenantFixture struct {
	a, b   *store.Endpoint
	da, db *store.Delivery
}

func (b *testBundle) twoTenants() tenantFixture {
	var f tenantFixture
	f.a = b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "acme's")
	f.b = b.endpoint("globex", "http://127.0.0.1:9/globex-hook", "globex's")
	f.da = b.deliver("acme", 500, "acme-response", store.StatusFailed)[0]
	f.db = b.deliver("globex", 500, "globex-response", store.StatusFailed)[0]
	return f
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.twoTenants()
	ctx := context.Background()
	c := b.portal("acme")

	// Lists show only acme's.
	for _, p := range []string{"/ui/", "/ui/endpoints", "/ui/deliveries", "/ui/deliveries?status=failed"} {
		r := c.get(p)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", p, r.status)
		}
		if strings.Contains(r.body, "globex") || strings.Contains(r.body, f.b.ID) || strings.Contains(r.body, f.db.ID) {
			t.Errorf("GET %s shows globex's resources", p)
		}
	}
	if r := c.get("/ui/endpoints"); !strings.Contains(r.body, f.a.URL) || !strings.Contains(r.body, "Tenant <strong>acme</strong>") {
		t.Errorf("endpoint list lacks acme's endpoint")
	}
	if r := c.get("/ui/deliveries"); !strings.Contains(r.body, f.da.ID) {
		t.Errorf("delivery list lacks acme's delivery")
	}
	// Filtering by the other tenant's endpoint finds nothing.
	if r := c.get("/ui/deliveries?endpoint_id=" + f.b.ID); strings.Contains(r.body, f.db.ID) {
		t.Errorf("filtering by globex's endpoint shows its delivery")
	}
	// The chart counts acme's delivery only.
	if r := c.get("/ui/"); !strings.Contains(r.body, "0 succeeded, 1 failed, 0 pending") {
		t.Errorf("chart of acme does not count exactly its one failed delivery")
	}

	// Globex's pages are 404, as if they did not exist.
	for _, p := range []string{"/ui/endpoints/" + f.b.ID, "/ui/endpoints/" + f.b.ID + "/edit", "/ui/endpoints/" + f.b.ID + "/delete", "/ui/deliveries/" + f.db.ID} {
		if r := c.get(p); r.status != http.StatusNotFound || strings.Contains(r.body, "globex") {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	// Nor can it change them.
	token := c.csrf("/ui/endpoints")
	for _, p := range []string{
		"/ui/endpoints/" + f.b.ID,
		"/ui/endpoints/" + f.b.ID + "/delete",
		"/ui/endpoints/" + f.b.ID + "/secret/reveal",
		"/ui/endpoints/" + f.b.ID + "/secret/rotate",
		"/ui/endpoints/" + f.b.ID + "/test",
		"/ui/deliveries/" + f.db.ID + "/retry",
	} {
		r := c.do("POST", p, url.Values{"csrf": {token}, "url": {"http://127.0.0.1:9/pwned"}, "scheme": {"standard"}, "overlap": {"0"}})
		if r.status != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", p, r.status)
		}
		if strings.Contains(r.body, "whsec_") {
			t.Errorf("POST %s leaks a secret", p)
		}
	}
	r := c.do("POST", "/ui/deliveries/replay", url.Values{"csrf": {token}, "endpoint_id": {f.b.ID}, "since": {"2000-01-01T00:00"}})
	if r.status != http.StatusNotFound {
		t.Errorf("replay of globex's endpoint: %d, want 404", r.status)
	}
	// Replaying "every endpoint" replays acme's only.
	r = c.do("POST", "/ui/deliveries/replay", url.Values{"csrf": {token}, "since": {"2000-01-01T00:00"}})
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "flash=replayed&n=1") {
		t.Errorf("replay all: %d %q", r.status, r.location)
	}
	eb, err := b.st.GetEndpoint(ctx, f.b.ID)
	if err != nil {
		t.Fatalf("globex's endpoint: %v", err)
	}
	if eb.URL != f.b.URL || len(eb.Secrets) != 1 || eb.Secrets[0].Value != f.b.Secrets[0].Value {
		t.Errorf("globex's endpoint changed: %+v", eb)
	}
	if d, _ := b.st.GetDelivery(ctx, f.db.ID); d.Status != store.StatusFailed {
		t.Errorf("globex's delivery is %s, want still failed", d.Status)
	}
	if d, _ := b.st.GetDelivery(ctx, f.da.ID); d.Status != store.StatusPending {
		t.Errorf("acme's delivery is %s after the replay, want pending", d.Status)
	}

	// A tenant creates endpoints in its own tenant only, and is not offered
	// the choice.
	if r := c.get("/ui/endpoints/new"); strings.Contains(r.body, `name="tenant"`) {
		t.Errorf("portal's endpoint form offers a tenant field")
	}
	r = c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/new"}, "tenant": {"globex"}, "scheme": {"standard"}}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther {
		t.Fatalf("portal create: %d\n%s", r.status, r.body)
	}
	id := strings.TrimPrefix(strings.Split(r.location, "?")[0], "/ui/endpoints/")
	if e, err := b.st.GetEndpoint(ctx, id); err != nil || e.Tenant != "acme" {
		t.Errorf("portal created %+v, %v; want tenant acme", e, err)
	}

	// acme can do all of that to its own.
	if r := c.get("/ui/endpoints/" + f.a.ID); r.status != http.StatusOK {
		t.Errorf("acme's own endpoint: %d", r.status)
	}
	if r := c.post("/ui/endpoints/"+f.a.ID+"/secret/reveal", nil, "/ui/endpoints/"+f.a.ID); r.status != http.StatusOK || !strings.Contains(r.body, f.a.Secrets[0].Value) {
		t.Errorf("acme's own reveal: %d", r.status)
	}

	// The admin sees both.
	r = b.admin().get("/ui/endpoints")
	if !strings.Contains(r.body, f.a.URL) || !strings.Contains(r.body, f.b.URL) {
		t.Errorf("admin's list lacks an endpoint")
	}
}

func TestPortalLinks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	f := b.twoTenants()

	link, err := b.ui.MintPortalLink("acme", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "/ui/portal/") {
		t.Fatalf("link %q", link)
	}
	token := strings.TrimPrefix(link, "/ui/portal/")
	payload, mac, _ := strings.Cut(token, ".")

	// Forged: globex's claims under acme's MAC; a MAC made with another
	// key; truncated; garbage.
	globexLink, _ := b.ui.MintPortalLink("globex", 10*time.Minute)
	globexPayload, _, _ := strings.Cut(strings.TrimPrefix(globexLink, "/ui/portal/"), ".")
	other := setup(t, nil)
	otherLink, _ := other.ui.MintPortalLink("acme", 10*time.Minute)
	for name, p := range map[string]string{
		"swapped payload": "/ui/portal/" + globexPayload + "." + mac,
		"other key":       otherLink,
		"no mac":          "/ui/portal/" + payload,
		"garbage":         "/ui/portal/%3Cscript%3E",
		"empty mac":       "/ui/portal/" + payload + ".",
	} {
		c := b.client()
		if r := c.get(p); r.status != http.StatusForbidden || strings.Contains(r.body, "<script>") {
			t.Errorf("%s: %d, want 403", name, r.status)
		}
		if r := c.get("/ui/endpoints"); r.status != http.StatusSeeOther {
			t.Errorf("%s: a session was opened", name)
		}
	}

	// Valid until it expires.
	c := b.client()
	c.openPortal(link)
	b.clock.Add(10*time.Minute + time.Second)
	if r := b.client().get(link); r.status != http.StatusForbidden {
		t.Errorf("expired link: %d, want 403", r.status)
	}
	// The session it opened outlives the link, up to PortalSessionTTL.
	if r := c.get("/ui/endpoints/" + f.a.ID); r.status != http.StatusOK {
		t.Errorf("portal session after the link expired: %d", r.status)
	}
	b.clock.Add(PortalSessionTTL)
	if r := c.get("/ui/endpoints/" + f.a.ID); r.status != http.StatusSeeOther {
		t.Errorf("portal session after PortalSessionTTL: %d, want 303 to sign in", r.status)
	}

	// Lifetimes out of bounds and bad tenants are refused.
	for _, tc := range []struct {
		tenant string
		ttl    time.Duration
	}{{"acme", -time.Second}, {"acme", MaxPortalLinkTTL + time.Second}, {" acme", time.Minute}, {"a\x00b", time.Minute}} {
		if _, err := b.ui.MintPortalLink(tc.tenant, tc.ttl); !errors.Is(err, ErrInvalidLink) {
			t.Errorf("MintPortalLink(%q, %v) = %v, want ErrInvalidLink", tc.tenant, tc.ttl, err)
		}
	}
}

// receiver is a loopback webhook receiver that answers with status and
// body and remembers the requests it got.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newReceiver(t testing.TB, status int, body string) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.reqs = append(rc.reqs, r)
		rc.body = append(rc.body, b)
		rc.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

// TestSendTest sends a test event to one endpoint: a recorded delivery to
// that endpoint only, whatever the event type filters, whose page waits
// for the engine's attempt.
func TestSendTest(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	e := b.endpoint("acme", "http://127.0.0.1:9/hook", "")
	// It does not accept hookrelay.test.
	if _, err := b.st.UpdateEndpoint(context.Background(), e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{EventTypes: &[]string{"invoice.*"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	other := b.endpoint("acme", "http://127.0.0.1:9/other", "") // accepts everything
	c := b.admin()
	page := "/ui/endpoints/" + e.ID

	r := c.post(page+"/test", nil, page)
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/deliveries/") {
		t.Fatalf("send test: %d %q\n%s", r.status, r.location, r.body)
	}
	select {
	case <-b.notified:
	default:
		t.Error("the engine was not notified")
	}
	deliveryPage := strings.Split(r.location, "?")[0]
	r = c.get(r.location)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Test event sent.") || !strings.Contains(r.body, "No attempt yet") {
		t.Fatalf("delivery page: %d\n%s", r.status, r.body)
	}
	// Without JavaScript the waiting page reloads itself; with it, app.js
	// polls the live region.
	if !strings.Contains(r.body, `<noscript><meta http-equiv="refresh" content="2"></noscript>`) || !strings.Contains(r.body, `data-waiting="true"`) {
		t.Errorf("waiting page does not refresh itself")
	}

	b.completeDue(200, "thanks", store.StatusSucceeded)
	r = c.get(deliveryPage)
	if !strings.Contains(r.body, "HTTP 200") || !strings.Contains(r.body, `data-waiting="false"`) || strings.Contains(r.body, "http-equiv") {
		t.Errorf("delivery page after the attempt:\n%s", r.body)
	}
	r = c.get("/ui/deliveries?endpoint_id=" + e.ID)
	if !strings.Contains(r.body, "hookrelay.test") || !strings.Contains(r.body, "succeeded") {
		t.Errorf("delivery list lacks the succeeded test delivery")
	}
	if ds, _, err := b.st.ListDeliveries(context.Background(), store.DeliveryFilter{EndpointID: other.ID}); err != nil || len(ds) != 0 {
		t.Errorf("the test event reached another endpoint of the tenant: %d deliveries, %v", len(ds), err)
	}
	ds, _, err := b.st.ListDeliveries(context.Background(), store.DeliveryFilter{EndpointID: e.ID})
	if err != nil || len(ds) != 1 {
		t.Fatalf("the endpoint has %d deliveries, %v; want the test's", len(ds), err)
	}
	ev, err := b.st.GetEvent(context.Background(), ds[0].EventID)
	if err != nil || ev.Type != TestEventType || ev.Tenant != "acme" || !strings.Contains(string(ev.Payload), e.ID) {
		t.Errorf("test event = %+v, %v", ev, err)
	}

	// A disabled endpoint is refused, and nothing is sent.
	if _, err := b.st.UpdateEndpoint(context.Background(), e.ID, func(*store.Endpoint) (store.EndpointPatch, error) {
		return store.EndpointPatch{Enabled: new(false)}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if r := c.post(page+"/test", nil, page); r.status != http.StatusConflict || !strings.Contains(r.body, "disabled") {
		t.Errorf("send test to a disabled endpoint: %d", r.status)
	}
	if ds, _, _ := b.st.ListDeliveries(context.Background(), store.DeliveryFilter{EndpointID: e.ID}); len(ds) != 1 {
		t.Errorf("a refused test made a delivery: %d", len(ds))
	}
}

func TestDeliveryPageStopsWaiting(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.endpoint("", "http://127.0.0.1:9/hook", "")
	d := b.deliver("", 200, "thanks", store.StatusSucceeded)[0]
	r := b.admin().get("/ui/deliveries/" + d.ID)
	if strings.Contains(r.body, "http-equiv") || !strings.Contains(r.body, `data-waiting="false"`) || !strings.Contains(r.body, "HTTP 200") || !strings.Contains(r.body, "12 ms") {
		t.Errorf("finished delivery page:\n%s", r.body)
	}
}

func TestRetryAndReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	e := b.endpoint("", "http://127.0.0.1:9/hook", "")
	ds := b.deliver("", 500, "down", store.StatusFailed)
	b.deliver("", 500, "down", store.StatusFailed)
	c := b.admin()
	ctx := context.Background()

	r := c.post("/ui/deliveries/"+ds[0].ID+"/retry", nil, "/ui/deliveries/"+ds[0].ID)
	if r.status != http.StatusSeeOther {
		t.Fatalf("retry: %d\n%s", r.status, r.body)
	}
	if d, _ := b.st.GetDelivery(ctx, ds[0].ID); d.Status != store.StatusPending {
		t.Errorf("after retry: %s", d.Status)
	}
	r = c.get(r.location)
	if !strings.Contains(r.body, "Delivery queued for another attempt.") {
		t.Errorf("retry flash missing")
	}

	// Filters.
	r = c.get("/ui/deliveries?status=failed&endpoint_id=" + e.ID + "&event_type=invoice.paid&since=2000-01-01T00:00")
	if r.status != http.StatusOK || strings.Count(r.body, `class="badge fail">failed`) != 1 {
		t.Errorf("failed filter: %d, want 1 failed row\n%s", r.status, r.body)
	}
	if r := c.get("/ui/deliveries?status=failed&payload=amount%3D42.0"); r.status != http.StatusOK || strings.Count(r.body, `class="badge fail">failed`) != 1 {
		t.Errorf("payload filter amount=42.0: %d, want 1 failed row\n%s", r.status, r.body)
	}
	if r := c.get("/ui/deliveries?payload=amount%3D41"); !strings.Contains(r.body, "No deliveries match.") {
		t.Errorf("payload filter amount=41 shows deliveries")
	}
	if r := c.get("/ui/deliveries?payload=total%3D1"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "--search-field total") {
		t.Errorf("undeclared payload path: %d", r.status)
	}
	if r := c.get("/ui/deliveries?since=yesterday"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "is not a time") {
		t.Errorf("bad since: %d", r.status)
	}
	future := b.clock.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")
	if r := c.get("/ui/deliveries?since=" + future); !strings.Contains(r.body, "No deliveries match.") {
		t.Errorf("future since shows deliveries")
	}

	// Replay since a time: the failed one left.
	r = c.post("/ui/deliveries/replay", url.Values{"endpoint_id": {e.ID}, "since": {"2000-01-01T00:00"}}, "/ui/deliveries")
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "flash=replayed&n=1") {
		t.Fatalf("replay: %d %q", r.status, r.location)
	}
	r = c.post("/ui/deliveries/replay", url.Values{"endpoint_id": {e.ID}, "since": {"2000-01-01T00:00"}}, "/ui/deliveries")
	if !strings.Contains(r.location, "flash=nonereplay") {
		t.Errorf("second replay: %q", r.location)
	}
	if r := c.post("/ui/deliveries/replay", url.Values{"since": {""}}, "/ui/deliveries"); r.status != http.StatusBadRequest {
		t.Errorf("replay without since: %d", r.status)
	}
}

func TestVerifyHelper(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	s, _ := signature.Lookup("standard")
	secret, err := signature.GenerateSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	body := "{\n  \"a\": 1\n}"
	signed, err := s.Sign(signature.Message{ID: "msg_1", Payload: []byte(body)}, secret)
	if err != nil {
		t.Fatal(err)
	}
	var hdr strings.Builder
	for k, v := range signed.Header {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, v[0])
	}
	// As a browser sends a textarea: CRLF line breaks.
	crlf := strings.ReplaceAll(body, "\n", "\r\n")
	r := c.post("/ui/verify", url.Values{"headers": {hdr.String()}, "body": {crlf}, "secrets": {secret}}, "/ui/verify")
	if r.status != http.StatusOK || !strings.Contains(r.body, "Signature matches") || !strings.Contains(r.body, "<dd>standard</dd>") {
		t.Fatalf("verify: %d\n%s", r.status, r.body)
	}
	r = c.post("/ui/verify", url.Values{"headers": {hdr.String()}, "body": {crlf}, "secrets": {"whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}, "/ui/verify")
	if r.status != http.StatusOK || !strings.Contains(r.body, "No signature matches") {
		t.Fatalf("verify with a wrong secret: %d\n%s", r.status, r.body)
	}
	r = c.post("/ui/verify", url.Values{"headers": {"no colon here"}, "body": {"{}"}, "secrets": {""}}, "/ui/verify")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "Name: value") || !strings.Contains(r.body, "at least one secret") {
		t.Fatalf("bad verify form: %d\n%s", r.status, r.body)
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	for _, p := range []string{"/ui/endpoints/ep_nope", "/ui/deliveries/dlv_nope", "/ui/nope"} {
		if r := c.get(p); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
	if r := c.get("/ui"); r.status != http.StatusMovedPermanently || r.location != "/ui/" {
		t.Errorf("GET /ui: %d %q", r.status, r.location)
	}
	if r := c.do("DELETE", "/ui/endpoints", nil); r.status != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /ui/endpoints: %d, want 405", r.status)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	for name, cfg := range map[string]Config{
		"no store":    {SessionKey: make([]byte, 32)},
		"short key":   {Store: st, SessionKey: make([]byte, 16)},
		"bad base":    {Store: st, SessionKey: make([]byte, 32), BasePath: "ui"},
		"base with {": {Store: st, SessionKey: make([]byte, 32), BasePath: "/{x}"},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	u, err := New(Config{Store: st, SessionKey: make([]byte, 32), BasePath: "/dash/"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u)
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/dash/login")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), `action="/dash/login"`) {
		t.Errorf("GET /dash/login: %d", res.StatusCode)
	}
}

func TestChartLayout(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	buckets := make([]chartCounts, chartMinutes)
	buckets[0] = chartCounts{succeeded: 3, failed: 1}
	buckets[59] = chartCounts{succeeded: 1, failed: 1, pending: 3}
	c := layoutChart(buckets, start)
	if c.Succeeded != 4 || c.Failed != 2 || c.Pending != 3 || len(c.Bars) != chartMinutes {
		t.Fatalf("totals %+v", c)
	}
	// The peak is 5: the scale tops out at 6.
	if c.Grid[2].Label != "6" || c.Grid[1].Label != "3" {
		t.Errorf("grid %+v", c.Grid)
	}
	last := c.Bars[59]
	if len(last.Segs) != 3 || last.Title != "03:59 UTC: 1 succeeded, 1 failed, 3 pending" {
		t.Errorf("last bar %+v", last)
	}
	total := 0
	for _, s := range last.Segs {
		total += s.H
	}
	if want := 5 * chartPlotH / 6; total != want {
		t.Errorf("last bar is %d high, want %d", total, want)
	}
	if len(c.Bars[1].Segs) != 0 {
		t.Errorf("empty minute has segments")
	}
	for _, tc := range []struct{ n, want int }{{0, 2}, {2, 2}, {3, 4}, {5, 6}, {7, 10}, {11, 20}, {59, 60}, {61, 100}, {1001, 2000}} {
		if got := niceCeil(tc.n); got != tc.want {
			t.Errorf("niceCeil(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// sourceIDRE finds a source's id in a dashboard path.
var sourceIDRE = regexp.MustCompile(`/ui/sources/(src_[0-9a-z]+)`)

// githubSourceForm is a valid new source form: a GitHub source with one unsigned
// and one re-signing destination.
func githubSourceForm() url.Values {
	return url.Values{
		"name": {"github"}, "description": {"GitHub org hooks"}, "scheme": {"github"}, "secret": {"gh-secret-1"},
		"dest_url":    {"http://127.0.0.1:9/ci", "http://127.0.0.1:9/audit"},
		"dest_scheme": {"none", "standard"},
	}
}

// destinations returns the endpoints of src's tenant.
func (b *testBundle) destinations(src *store.Source) []*store.Endpoint {
	b.t.Helper()
	tenant := src.Tenant()
	eps, _, err := b.st.ListEndpoints(context.Background(), store.EndpointFilter{Tenant: &tenant})
	if err != nil {
		b.t.Fatal(err)
	}
	return eps
}

// TestSourceLifecycle creates, shows, lists, edits and deletes a source
// through the dashboard's forms, as an admin.
func TestSourceLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := b.admin()

	if r := c.get("/ui/"); !strings.Contains(r.body, `href="/ui/sources"`) {
		t.Errorf("the admin's navigation has no link to the sources")
	}
	if r := c.get("/ui/sources"); r.status != http.StatusOK || !strings.Contains(r.body, "No sources yet") {
		t.Fatalf("empty list: %d\n%s", r.status, r.body)
	}
	r := c.post("/ui/sources", githubSourceForm(), "/ui/sources/new")
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "flash=source_created") {
		t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
	}
	m := sourceIDRE.FindStringSubmatch(r.location)
	if m == nil {
		t.Fatalf("create redirects to %q", r.location)
	}
	src, err := b.st.GetSource(ctx, m[1])
	if err != nil {
		t.Fatal(err)
	}
	if src.Name != "github" || src.Scheme != "github" || src.Description != "GitHub org hooks" ||
		len(src.Secrets) != 1 || src.Secrets[0].Value != "gh-secret-1" || src.DedupeWindow != 24*time.Hour || src.Tolerance != 0 {
		t.Fatalf("stored source %+v", src)
	}
	dests := b.destinations(src)
	if len(dests) != 2 {
		t.Fatalf("%d destinations, want 2", len(dests))
	}
	schemes := map[string]string{}
	for _, d := range dests {
		schemes[d.URL] = d.Scheme
		if d.Scheme == "none" && len(d.Secrets) != 0 || d.Scheme == "standard" && len(d.Secrets) != 1 {
			t.Errorf("destination %s %s has %d secrets", d.URL, d.Scheme, len(d.Secrets))
		}
	}
	if schemes["http://127.0.0.1:9/ci"] != "none" || schemes["http://127.0.0.1:9/audit"] != "standard" {
		t.Errorf("destination schemes %v", schemes)
	}

	// The page: settings, the ingest URL, the secrets counted but never
	// shown, the destinations.
	page := "/ui/sources/" + src.ID
	r = c.get(r.location)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: %d", page, r.status)
	}
	for _, want := range []string{"Source created.", b.srv.URL + "/in/github", "1 secret,", "http://127.0.0.1:9/ci", "forwarded unsigned",
		"http://127.0.0.1:9/audit", "standard", "inbound.github", "No accepted requests yet", "No rejected requests"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("source page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "gh-secret-1") {
		t.Errorf("source page shows the secret")
	}
	r = c.get("/ui/sources")
	for _, want := range []string{page, "github", "/in/github", "<td>2</td>", "24h"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("source list lacks %q", want)
		}
	}

	// A source created without a secret gets one, shown on that answer
	// only.
	f := url.Values{"name": {"partner"}, "scheme": {"standard"}}
	r = c.post("/ui/sources", f, "/ui/sources/new")
	if r.status != http.StatusCreated {
		t.Fatalf("create without a secret: %d\n%s", r.status, r.body)
	}
	partner, err := b.st.SourceByName(ctx, "partner")
	if err != nil {
		t.Fatal(err)
	}
	// html/template writes "+" as "&#43;": compare unescaped.
	gen := partner.Secrets[0].Value
	if m := regexp.MustCompile(`data-secret>([^<]*)<`).FindStringSubmatch(r.body); !strings.HasPrefix(gen, "whsec_") || m == nil || html.UnescapeString(m[1]) != gen {
		t.Errorf("the generated secret is not shown once")
	}
	if r := c.get("/ui/sources/" + partner.ID); strings.Contains(html.UnescapeString(r.body), gen) || strings.Contains(r.body, "data-secret") {
		t.Errorf("the generated secret is shown again")
	}

	// Edit: the form shows no secret; add a secret keeping the old one
	// (with its times), set the windows, remove the unsigned destination
	// and add one.
	b.clock.Add(time.Minute)
	r = c.get(page + "/edit")
	if r.status != http.StatusOK || strings.Contains(r.body, "gh-secret-1") || !strings.Contains(r.body, `name="keep_secret" type="checkbox" value="0" checked`) {
		t.Fatalf("edit form: %d\n%s", r.status, r.body)
	}
	var unsigned *store.Endpoint
	for _, d := range dests {
		if d.Scheme == "none" {
			unsigned = d
		}
	}
	edit := url.Values{
		"version": {strconv.FormatInt(src.UpdatedAt.UnixMilli(), 10)}, "description": {"changed"}, "scheme": {"github"},
		"secret": {"gh-secret-2"}, "keep_secret": {"0"}, "tolerance_seconds": {"120"}, "dedupe_window_seconds": {"3600"},
		"remove_destination": {unsigned.ID}, "dest_url": {"http://127.0.0.1:9/new", ""}, "dest_scheme": {"github", "none"},
	}
	r = c.post(page, edit, page+"/edit")
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "flash=source_updated") {
		t.Fatalf("edit: %d %q\n%s", r.status, r.location, r.body)
	}
	got, err := b.st.GetSource(ctx, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Description != "changed" || got.Tolerance != 2*time.Minute || got.DedupeWindow != time.Hour || len(got.Secrets) != 2 ||
		got.Secrets[0].Value != "gh-secret-2" || got.Secrets[1].Value != "gh-secret-1" || !got.Secrets[1].CreatedAt.Equal(src.Secrets[0].CreatedAt) {
		t.Fatalf("edited source %+v", got)
	}
	dests = b.destinations(got)
	urls := []string{}
	for _, d := range dests {
		urls = append(urls, d.URL+" "+d.Scheme)
	}
	slices.Sort(urls)
	if want := []string{"http://127.0.0.1:9/audit standard", "http://127.0.0.1:9/new github"}; !slices.Equal(urls, want) {
		t.Errorf("destinations after the edit %v, want %v", urls, want)
	}
	// Unchecking the old secret drops it.
	b.clock.Add(time.Minute)
	r = c.post(page, url.Values{"version": {strconv.FormatInt(got.UpdatedAt.UnixMilli(), 10)}, "scheme": {"github"}, "keep_secret": {"0"},
		"tolerance_seconds": {"120"}, "dedupe_window_seconds": {"3600"}}, page+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit dropping a secret: %d\n%s", r.status, r.body)
	}
	if got, _ = b.st.GetSource(ctx, src.ID); len(got.Secrets) != 1 || got.Secrets[0].Value != "gh-secret-2" {
		t.Errorf("secrets after dropping the old one: %d", len(got.Secrets))
	}

	// Delete: a confirmation, then the source and its destinations go.
	if r := c.get(page + "/delete"); r.status != http.StatusOK || !strings.Contains(r.body, "2 destinations are deleted") {
		t.Fatalf("delete confirmation: %d\n%s", r.status, r.body)
	}
	r = c.post(page+"/delete", nil, page+"/delete")
	if r.status != http.StatusSeeOther || r.location != "/ui/sources?flash=source_deleted" {
		t.Fatalf("delete: %d %q", r.status, r.location)
	}
	if _, err := b.st.GetSource(ctx, src.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("source after delete: %v", err)
	}
	if n := len(b.destinations(src)); n != 0 {
		t.Errorf("%d destinations left after delete", n)
	}
	if r := c.get(page); r.status != http.StatusNotFound {
		t.Errorf("GET deleted source: %d, want 404", r.status)
	}
}

// TestSourceValidation: a refused form comes back with the errors listed
// and what was typed (but no secret), and changes nothing.
func TestSourceValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := b.admin()
	if r := c.post("/ui/sources", githubSourceForm(), "/ui/sources/new"); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	with := func(kv ...string) url.Values {
		f := githubSourceForm()
		f.Set("name", "other")
		for i := 0; i+1 < len(kv); i += 2 {
			f.Set(kv[i], kv[i+1])
		}
		return f
	}
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"bad name", with("name", "Bad Name"), "want 1 to 63 lowercase letters"},
		{"taken name", with("name", "github"), "a source called &#34;github&#34; exists already"},
		{"unknown scheme", with("scheme", "nope"), "unknown scheme"},
		{"custom without JSON", with("scheme", "custom"), "needs its description"},
		{"secret invalid for the scheme", with("scheme", "standard", "secret", "not base64!"), "Secret 1 (newest first) is not valid for scheme"},
		{"dedupe window below the tolerance", with("scheme", "stripe", "secret", "whsec_abc", "dedupe_window_seconds", "60"), "Dedupe window must be at least 600 seconds"},
		{"negative tolerance", with("tolerance_seconds", "-1"), "Replay tolerance must be from 0"},
		{"huge tolerance", with("tolerance_seconds", "99999999999999999999"), "Replay tolerance must be from 0"},
		{"tolerance not a number", with("tolerance_seconds", "soon"), "whole number of seconds"},
		{"destination URL", with("dest_url", "ftp://x"), "want an absolute http"},
		{"destination scheme", with("dest_scheme", "nope"), "New destination 1: Scheme is refused"},
	} {
		r := c.post("/ui/sources", tc.form, "/ui/sources/new")
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `class="errors"`) || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want 422 with %q\n%s", tc.name, r.status, tc.want, r.body)
			continue
		}
		if strings.Contains(r.body, tc.form.Get("secret")) {
			t.Errorf("%s: the form echoes the secret", tc.name)
		}
		if !strings.Contains(r.body, `value="`+tc.form.Get("name")+`"`) && tc.name != "bad name" {
			t.Errorf("%s: the form lost the typed name", tc.name)
		}
	}
	srcs, _, err := b.st.ListSources(ctx, store.Page{})
	if err != nil || len(srcs) != 1 {
		t.Fatalf("%d sources after refused forms (%v), want 1", len(srcs), err)
	}
	src := srcs[0]
	if n := len(b.destinations(src)); n != 2 {
		t.Errorf("refused forms changed the destinations: %d", n)
	}

	// Edits: no secret left, and a form filled before another change.
	page := "/ui/sources/" + src.ID
	version := strconv.FormatInt(src.UpdatedAt.UnixMilli(), 10)
	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"no secret kept", url.Values{"version": {version}, "scheme": {"github"}}, "Secrets must not be empty"},
		{"new scheme refuses the kept secret", url.Values{"version": {version}, "scheme": {"standard"}, "keep_secret": {"0"}}, "Secret 1 (newest first) is not valid"},
		{"stale form", url.Values{"version": {"1"}, "scheme": {"github"}, "keep_secret": {"0"}}, "changed since this form was opened"},
		{"unknown destination to remove", url.Values{"version": {version}, "scheme": {"github"}, "keep_secret": {"0"}, "remove_destination": {"ep_nope"}}, "no longer there"},
	} {
		r := c.post(page, tc.form, page+"/edit")
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s: %d, want 422 with %q\n%s", tc.name, r.status, tc.want, r.body)
		}
	}
	if got, _ := b.st.GetSource(ctx, src.ID); len(got.Secrets) != 1 || got.Scheme != "github" || !got.UpdatedAt.Equal(src.UpdatedAt) {
		t.Errorf("refused edits changed the source: %+v", got)
	}
}

// TestSourcesAdminOnly: a portal session sees no source, not even the
// link, cannot change one, and no portal opens on a source's tenant.
func TestSourcesAdminOnly(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	if r := b.admin().post("/ui/sources", githubSourceForm(), "/ui/sources/new"); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	src, err := b.st.SourceByName(ctx, "github")
	if err != nil {
		t.Fatal(err)
	}
	b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "acme's")
	c := b.portal("acme")
	if r := c.get("/ui/endpoints"); r.status != http.StatusOK || strings.Contains(r.body, "/ui/sources") {
		t.Errorf("portal page: %d, links to the sources", r.status)
	}
	page := "/ui/sources/" + src.ID
	for _, p := range []string{"/ui/sources", "/ui/sources/new", page, page + "/edit", page + "/delete"} {
		if r := c.get(p); r.status != http.StatusNotFound || strings.Contains(r.body, "github") {
			t.Errorf("portal GET %s: %d, want 404", p, r.status)
		}
	}
	token := c.csrf("/ui/endpoints")
	f := githubSourceForm()
	f.Set("name", "sneaky")
	f.Set("csrf", token)
	for _, p := range []string{"/ui/sources", page, page + "/delete"} {
		if r := c.do("POST", p, f); r.status != http.StatusNotFound {
			t.Errorf("portal POST %s: %d, want 404", p, r.status)
		}
	}
	if got, err := b.st.GetSource(ctx, src.ID); err != nil || got.Description != src.Description || !got.UpdatedAt.Equal(src.UpdatedAt) {
		t.Errorf("the portal changed the source: %+v, %v", got, err)
	}
	if _, err := b.st.SourceByName(ctx, "sneaky"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the portal created a source: %v", err)
	}
	// The destinations' tenant gets no portal, and the admin cannot put an
	// endpoint in it from the endpoint form.
	if _, err := b.ui.MintPortalLink(src.Tenant(), time.Minute); !errors.Is(err, ErrInvalidLink) {
		t.Errorf("MintPortalLink(%q) = %v, want ErrInvalidLink", src.Tenant(), err)
	}
	// Nor does a link or session signed for it (made before this rule, or
	// by hand) open one.
	token, err = b.ui.keys.portalToken(portalClaims{Tenant: src.Tenant(), Expires: b.clock.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if r := b.client().get("/ui/portal/" + token); r.status != http.StatusForbidden {
		t.Errorf("portal link for %q: %d, want 403", src.Tenant(), r.status)
	}
	cookie, err := b.ui.keys.encodeSession(&session{Kind: kindTenant, Tenant: src.Tenant(), Nonce: "n", Expires: b.clock.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	sc := b.client()
	u, _ := url.Parse(b.srv.URL + "/ui/")
	sc.hc.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: cookie, Path: "/ui/"}})
	if r := sc.get("/ui/endpoints"); r.status != http.StatusSeeOther {
		t.Errorf("session of tenant %q: %d, want 303 to sign in", src.Tenant(), r.status)
	}
	r := b.admin().post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/x"}, "tenant": {src.Tenant()}, "scheme": {"standard"}}, "/ui/endpoints/new")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "reserved for the destinations of inbound sources") {
		t.Errorf("endpoint in a source's tenant: %d\n%s", r.status, r.body)
	}
}

// TestSourceRecentRequests sends requests through a real gateway and
// finds them on the source's page: the accepted one with its forwarding
// delivery, linked; the rejected one with its reason, redacted headers
// and body.
func TestSourceRecentRequests(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := b.admin()
	if r := c.post("/ui/sources", githubSourceForm(), "/ui/sources/new"); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	src, err := b.st.SourceByName(ctx, "github")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := inbound.New(inbound.Config{Store: b.st})
	if err != nil {
		t.Fatal(err)
	}
	post := func(body string, h http.Header) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/in/github", strings.NewReader(body))
		req.Header = h
		req.SetPathValue("source", "github")
		rec := httptest.NewRecorder()
		gw.ServeHTTP(rec, req)
		return rec
	}
	gh, _ := signature.Lookup("github")
	body := `{"action":"opened","number":7}`
	signed, err := gh.Sign(signature.Message{Payload: []byte(body)}, "gh-secret-1")
	if err != nil {
		t.Fatal(err)
	}
	signed.Header.Set("X-GitHub-Delivery", "d-1")
	signed.Header.Set("Content-Type", "application/json")
	if rec := post(body, signed.Header); rec.Code != http.StatusAccepted {
		t.Fatalf("signed request: %d %s", rec.Code, rec.Body)
	}
	bad := signed.Header.Clone()
	bad.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
	bad.Set("Authorization", "Bearer hunter2")
	if rec := post(`{"forged":"<b>x</b>"}`, bad); rec.Code != http.StatusUnauthorized {
		t.Fatalf("forged request: %d %s", rec.Code, rec.Body)
	}

	tenant := src.Tenant()
	ds, _, err := b.st.ListDeliveries(ctx, store.DeliveryFilter{Tenant: &tenant})
	if err != nil || len(ds) != 2 {
		t.Fatalf("%d deliveries (%v), want 2: one per destination", len(ds), err)
	}
	r := c.get("/ui/sources/" + src.ID)
	if r.status != http.StatusOK {
		t.Fatalf("source page: %d", r.status)
	}
	for _, want := range []string{ds[0].EventID, "/ui/deliveries/" + ds[0].ID, "/ui/deliveries/" + ds[1].ID, "pending",
		"signature mismatch", "[redacted]", "{&#34;forged&#34;:&#34;&lt;b&gt;x&lt;/b&gt;&#34;}", "X-Hub-Signature-256"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("source page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "hunter2") || strings.Contains(r.body, "<b>x</b>") {
		t.Errorf("source page shows a credential or unescaped body")
	}
	if strings.Contains(r.body, "No accepted requests yet") || strings.Contains(r.body, "No rejected requests") {
		t.Errorf("source page says it has no requests")
	}
	// The delivery page it links to is the existing one.
	if r := c.get("/ui/deliveries/" + ds[0].ID); r.status != http.StatusOK || !strings.Contains(r.body, "inbound.github") {
		t.Errorf("delivery page: %d", r.status)
	}
}

// TestUnsignedDestinationPage: the endpoint page of a destination that
// forwards unsigned offers no secret to reveal or rotate, a rotation is
// refused with 409, and its form keeps it unsigned.
func TestUnsignedDestinationPage(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	c := b.admin()
	if r := c.post("/ui/sources", githubSourceForm(), "/ui/sources/new"); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	src, err := b.st.SourceByName(ctx, "github")
	if err != nil {
		t.Fatal(err)
	}
	var ep *store.Endpoint
	for _, d := range b.destinations(src) {
		if d.Scheme == "none" {
			ep = d
		}
	}
	page := "/ui/endpoints/" + ep.ID
	r := c.get(page)
	if r.status != http.StatusOK || strings.Contains(r.body, "rotate-secret") || strings.Contains(r.body, "reveal-secret") ||
		!strings.Contains(r.body, "no secret to reveal or rotate") || !strings.Contains(r.body, "Destination of source github") {
		t.Fatalf("unsigned destination page: %d\n%s", r.status, r.body)
	}
	r = c.post(page+"/secret/rotate", url.Values{"overlap": {"0"}}, page)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "no secret to rotate") {
		t.Errorf("rotate: %d, want 409\n%s", r.status, r.body)
	}
	if r := c.get(page + "/edit"); !strings.Contains(r.body, `<option value="none" selected>`) {
		t.Errorf("the edit form does not keep scheme none")
	}
	r = c.post(page, url.Values{"url": {ep.URL}, "scheme": {"none"}, "enabled": {"1"}, "description": {"CI"}}, page+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("save unsigned: %d\n%s", r.status, r.body)
	}
	if got, _ := b.st.GetEndpoint(ctx, ep.ID); got.Scheme != "none" || len(got.Secrets) != 0 || got.Description != "CI" {
		t.Errorf("after saving: %+v", got)
	}
	// Choosing a scheme makes it re-sign, with a generated secret.
	r = c.post(page, url.Values{"url": {ep.URL}, "scheme": {"standard"}, "enabled": {"1"}}, page+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("save re-signing: %d\n%s", r.status, r.body)
	}
	if got, _ := b.st.GetEndpoint(ctx, ep.ID); got.Scheme != "standard" || len(got.Secrets) != 1 || !strings.HasPrefix(got.Secrets[0].Value, "whsec_") {
		t.Errorf("after choosing standard: %+v", got)
	}
	// And back to unsigned, which drops the secret; not with a secret.
	r = c.post(page, url.Values{"url": {ep.URL}, "scheme": {"none"}, "secret": {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "enabled": {"1"}}, page+"/edit")
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "takes no secret") {
		t.Errorf("unsigned with a secret: %d", r.status)
	}
	if r = c.post(page, url.Values{"url": {ep.URL}, "scheme": {"none"}, "enabled": {"1"}}, page+"/edit"); r.status != http.StatusSeeOther {
		t.Fatalf("back to unsigned: %d\n%s", r.status, r.body)
	}
	if got, _ := b.st.GetEndpoint(ctx, ep.ID); got.Scheme != "none" || len(got.Secrets) != 0 {
		t.Errorf("back to unsigned: %+v", got)
	}
	// Other endpoints are not offered unsigned, nor can they have it.
	other := b.endpoint("acme", "http://127.0.0.1:9/acme", "")
	if r := c.get("/ui/endpoints/" + other.ID + "/edit"); strings.Contains(r.body, `<option value="none"`) {
		t.Errorf("an endpoint that is no destination is offered scheme none")
	}
	r = c.post("/ui/endpoints/"+other.ID, url.Values{"url": {other.URL}, "scheme": {"none"}, "enabled": {"1"}}, "/ui/endpoints/"+other.ID+"/edit")
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("scheme none on an endpoint that is no destination: %d", r.status)
	}
}

func TestFmtSpan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "—"},
		{90 * time.Second, "1m30s"},
		{5 * time.Minute, "5m"},
		{24 * time.Hour, "24h"},
		{26*time.Hour + 30*time.Minute, "26h30m"},
		{30 * 24 * time.Hour, "30d"},
		{50 * time.Hour, "2d2h"},
		{500 * time.Millisecond, "500ms"},
	} {
		if got := fmtSpan(tc.d); got != tc.want {
			t.Errorf("fmtSpan(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestEndpointTraceContextForm checks the dashboard's trace context
// checkbox: it sets trace_context at creation, the edit form shows it
// checked, and an edit without it clears it.
func TestEndpointTraceContextForm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	ctx := context.Background()
	r := c.post("/ui/endpoints", url.Values{
		"url": {"http://127.0.0.1:9/hook"}, "scheme": {"standard"}, "enabled": {"1"}, "trace_context": {"1"},
	}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/ui/endpoints/ep_") {
		t.Fatalf("create: %d %q\n%s", r.status, r.location, r.body)
	}
	page := strings.Split(r.location, "?")[0]
	id := strings.TrimPrefix(page, "/ui/endpoints/")
	if e, err := b.st.GetEndpoint(ctx, id); err != nil || !e.TraceContext {
		t.Fatalf("created with the checkbox: %+v, %v", e, err)
	}
	if r := c.get(page + "/edit"); !strings.Contains(r.body, `name="trace_context" type="checkbox" value="1" checked`) {
		t.Errorf("edit form does not show trace context checked")
	}
	if r := c.get(page); !strings.Contains(r.body, "sent (traceparent)") {
		t.Errorf("endpoint page does not say the trace context is sent")
	}
	r = c.post(page, url.Values{"url": {"http://127.0.0.1:9/hook"}, "scheme": {"standard"}, "enabled": {"1"}}, page+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	if e, err := b.st.GetEndpoint(ctx, id); err != nil || e.TraceContext {
		t.Fatalf("edited without the checkbox: TraceContext %v, %v", e.TraceContext, err)
	}
}
