package ui

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookrelay/hookrelay/internal/delivery"
	"github.com/hookrelay/hookrelay/internal/inbound"
	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

// chromiumPath is Debian's chromium, which scripts/chromium.sh installs.
const chromiumPath = "/usr/bin/chromium"

// browserSuite is a dashboard with a real delivery engine and inbound
// gateway, a headless Chromium tab on it, and where its screenshots go.
type browserSuite struct {
	t     *testing.T
	base  string // the dashboard's origin
	st    store.Store
	ui    *UI
	ctx   context.Context // the tab
	shots string
	n     int
}

// newBrowserSuite starts the store, the engine, the dashboard, the gateway
// (at /in/{source}, as serve mounts it) and Chromium.
// Without Chromium the test is skipped, or fails when CI is set.
func newBrowserSuite(t *testing.T) *browserSuite {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: run scripts/chromium.sh first", chromiumPath)
		}
		t.Skipf("%s is missing (scripts/chromium.sh installs it)", chromiumPath)
	}
	shots := os.Getenv("HOOKRELAY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	st := openStore(t)
	engine, err := delivery.New(delivery.Config{
		Store:                st,
		AllowPrivateNetworks: true,
		RetrySchedule:        []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond},
		PollInterval:         50 * time.Millisecond,
		RequestTimeout:       5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	engineCtx, stopEngine := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := engine.Run(engineCtx); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("engine: %v", err)
		}
	})
	t.Cleanup(func() {
		stopEngine()
		wg.Wait()
	})

	sessionKey := make([]byte, 32)
	rand.Read(sessionKey)
	u, err := New(Config{Store: st, Notifier: engine, SessionKey: sessionKey, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	// The inbound gateway, forwarding through the engine.
	gateway, err := inbound.New(inbound.Config{Store: st, Notifier: engine})
	if err != nil {
		t.Fatal(err)
	}
	// Mounted as serve mounts them.
	mux := http.NewServeMux()
	mux.Handle("/ui/", u)
	mux.Handle("POST /in/{source}", gateway)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	tab, cancelTimeout := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(cancelTimeout)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return &browserSuite{t: t, base: srv.URL, st: st, ui: u, ctx: tab, shots: shots}
}

// do runs actions in the tab and fails the test on error.
func (s *browserSuite) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	if err := chromedp.Do(s.ctx, actions...); err != nil {
		s.shot("failed-" + what)
		s.t.Fatalf("%s: %v", what, err)
	}
}

// submit clicks a button that submits a form and waits for the page it
// leads to.
func (s *browserSuite) submit(what string, sel chromedp.CSS) {
	s.t.Helper()
	if _, err := chromedp.RunResponse(s.ctx, chromedp.Click(sel)); err != nil {
		s.shot("failed-" + what)
		s.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the first element sel selects.
func (s *browserSuite) text(sel chromedp.CSS) string {
	s.t.Helper()
	txt, err := chromedp.Run(s.ctx, chromedp.Text(sel))
	if err != nil {
		s.t.Fatalf("text of %s: %v", sel, err)
	}
	return txt
}

// waitText waits until the text of the page's main element matches re.
func (s *browserSuite) waitText(what string, re string, timeout time.Duration) {
	s.t.Helper()
	expr := fmt.Sprintf(`new RegExp(%q).test(document.querySelector("main").innerText)`, re)
	if _, err := chromedp.Run(s.ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond))); err != nil {
		s.shot("failed-" + what)
		main, _ := chromedp.Run(s.ctx, chromedp.Text(chromedp.CSS("main")))
		s.t.Fatalf("%s: the page never matched %q: %v\n%s", what, re, err, main)
	}
}

// shot saves a screenshot of the whole page.
func (s *browserSuite) shot(name string) string {
	s.t.Helper()
	png, err := chromedp.Run(s.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		s.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	s.n++
	p := filepath.Join(s.shots, fmt.Sprintf("%02d-%s.png", s.n, name))
	if err := os.WriteFile(p, png, 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.t.Logf("screenshot: %s", p)
	return p
}

// unlabeledJS lists the form controls a person cannot identify: inputs,
// selects and textareas without a label, and buttons and links without
// text.
const unlabeledJS = `(() => {
  const bad = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden") continue;
    const named = (el.labels && el.labels.length > 0 && [...el.labels].some(l => l.textContent.trim() !== "")) ||
      (el.getAttribute("aria-label") || "").trim() !== "" || el.getAttribute("aria-labelledby");
    if (!named) bad.push(el.outerHTML);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (el.textContent.trim() === "" && !el.getAttribute("aria-label")) bad.push(el.outerHTML);
  }
  return bad;
})()`

// checkLabels fails the test if the current page has unlabeled controls.
func (s *browserSuite) checkLabels(page string) {
	s.t.Helper()
	bad, err := chromedp.Run(s.ctx, chromedp.Evaluate[[]string](unlabeledJS))
	if err != nil {
		s.t.Fatalf("label check on %s: %v", page, err)
	}
	for _, b := range bad {
		s.t.Errorf("%s: control without a label: %s", page, b)
	}
}

// fillEndpoint fills the new endpoint form.
func (s *browserSuite) fillEndpoint(rawURL, description, tenant, types string) {
	s.t.Helper()
	s.do("open the endpoint form", chromedp.Navigate(s.base+"/ui/endpoints/new"), chromedp.WaitVisible(chromedp.ID("url")))
	s.checkLabels("endpoint form")
	s.do("fill the endpoint form",
		chromedp.SendKeys(chromedp.ID("url"), rawURL),
		chromedp.SendKeys(chromedp.ID("description"), description),
		chromedp.SendKeys(chromedp.ID("tenant"), tenant),
		chromedp.SendKeys(chromedp.ID("event_types"), types),
	)
}

var endpointIDRE = regexp.MustCompile(`/ui/endpoints/(ep_[0-9a-z]+)`)

// currentEndpointID returns the id of the endpoint whose page is open.
func (s *browserSuite) currentEndpointID() string {
	s.t.Helper()
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		s.t.Fatal(err)
	}
	m := endpointIDRE.FindStringSubmatch(loc)
	if m == nil {
		s.t.Fatalf("not on an endpoint page: %s", loc)
	}
	return m[1]
}

// TestBrowser drives the dashboard in headless Chromium with a real
// delivery engine and loopback receivers: sign in, create an endpoint,
// send it a test event and see the successful attempt, rotate its secret,
// and watch a failing endpoint's retries; all through the page.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newBrowserSuite(t)
	ctx := context.Background()
	key, _ := createAPIKey(t, s.st, time.Now())

	ok := newReceiver(t, http.StatusOK, `{"received":true,"note":"<script>alert(1)</script>"}`)
	failing := newReceiver(t, http.StatusInternalServerError, "database is down")

	// Signed out: the sign-in page, usable from the keyboard: the key
	// field has the focus, and Enter signs in.
	s.do("open the dashboard", chromedp.Navigate(s.base+"/ui/"), chromedp.WaitVisible(chromedp.ID("api_key")))
	s.checkLabels("sign-in page")
	s.shot("sign-in")
	if _, err := chromedp.RunResponse(s.ctx, chromedp.SendKeys(chromedp.ID("api_key"), key+"\r")); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	s.waitText("signed in", `Overview`, 5*time.Second)
	// The first Tab reaches the skip link, and Enter on it moves the focus
	// to the content.
	s.do("tab to the skip link", chromedp.KeyEvent("\t"))
	if focused, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.activeElement.textContent`)); err != nil || focused != "Skip to content" {
		t.Errorf("first Tab focuses %q (%v), want the skip link", focused, err)
	}
	s.do("follow the skip link", chromedp.KeyEvent("\r"))
	if focused, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.activeElement.id`)); err != nil || focused != "main" {
		t.Errorf("the skip link focuses %q (%v), want main", focused, err)
	}

	// Create an endpoint that answers 200.
	s.fillEndpoint(ok.URL+"/hooks", "Orders service", "acme", "order.*")
	s.submit("create the endpoint", chromedp.CSS(`main form button[type=submit]`))
	s.waitText("endpoint created", `Endpoint created\.`, 5*time.Second)
	okID := s.currentEndpointID()
	s.checkLabels("endpoint page")
	s.shot("endpoint-created")

	// Send it a test event and see the successful attempt: its request
	// headers with the signature, status, latency and response body.
	s.submit("send a test event", chromedp.CSS("#send-test"))
	s.waitText("successful attempt", `HTTP 200`, 15*time.Second)
	main := s.text(chromedp.CSS("main"))
	for _, want := range []string{"Webhook-Signature", "signature", "Latency", `"received":true`, "<script>alert(1)</script>"} {
		if !strings.Contains(main, want) {
			t.Errorf("test attempt page lacks %q", want)
		}
	}
	if n, err := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll("main script").length`)); err != nil || n != 0 {
		t.Errorf("the response body became a script element (%d, %v)", n, err)
	}
	s.shot("test-event-succeeded")
	if ok.count() != 1 {
		t.Fatalf("the OK receiver got %d requests, want 1", ok.count())
	}
	ep, err := s.st.GetEndpoint(ctx, okID)
	if err != nil {
		t.Fatal(err)
	}
	ok.mu.Lock()
	req, body := ok.reqs[0], ok.body[0]
	ok.mu.Unlock()
	std, _ := signature.Lookup("standard")
	if err := std.Verify(req.Header, body, []string{ep.Secrets[0].Value}, nil); err != nil {
		t.Errorf("the test request does not verify with the endpoint's secret: %v", err)
	}

	// Rotate the secret: the new one is shown, the old one keeps signing
	// for the default overlap.
	s.do("open the endpoint", chromedp.Navigate(s.base+"/ui/endpoints/"+okID), chromedp.WaitVisible(chromedp.ID("rotate-secret")))
	s.submit("rotate the secret", chromedp.CSS("#rotate-secret"))
	s.waitText("secret rotated", `Secret rotated`, 5*time.Second)
	rotated, err := s.st.GetEndpoint(ctx, okID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rotated.Secrets) != 2 || rotated.Secrets[1].Value != ep.Secrets[0].Value || rotated.Secrets[1].ExpiresAt == nil {
		t.Fatalf("after rotation the endpoint has %d secrets", len(rotated.Secrets))
	}
	shown, err := chromedp.Run(s.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("[data-secret]")].map(e => e.textContent)`))
	if err != nil || len(shown) != 2 || shown[0] != rotated.Secrets[0].Value {
		t.Errorf("the page shows secrets %d (%v), want the new one first", len(shown), err)
	}
	s.shot("secret-rotated")

	// A failing endpoint: its retries appear on its delivery's page as the
	// engine makes them, until the delivery fails.
	s.fillEndpoint(failing.URL+"/hooks", "Billing (down)", "globex", "")
	s.submit("create the failing endpoint", chromedp.CSS(`main form button[type=submit]`))
	s.waitText("failing endpoint created", `Endpoint created\.`, 5*time.Second)
	failID := s.currentEndpointID()
	s.submit("send a test event to the failing endpoint", chromedp.CSS("#send-test"))
	loc, _ := chromedp.Run(s.ctx, chromedp.Location())
	deliveryID := loc[strings.LastIndex(loc, "/")+1:]
	deliveryID, _, _ = strings.Cut(deliveryID, "?")
	s.do("open the failing delivery", chromedp.Navigate(s.base+"/ui/deliveries/"+deliveryID), chromedp.WaitVisible(chromedp.ID("live")))
	// app.js polls the page and swaps the attempts in as they happen.
	s.waitText("retries exhausted", `Status\s*failed[\s\S]*Attempt 4`, 20*time.Second)
	main = s.text(chromedp.CSS("main"))
	if n := strings.Count(main, "HTTP 500"); n != 4 {
		t.Errorf("the failing delivery shows %d attempts with HTTP 500, want 4", n)
	}
	if !strings.Contains(main, "database is down") {
		t.Errorf("the failing delivery's page lacks the response body")
	}
	s.checkLabels("delivery page")
	s.shot("failing-endpoint-retries")

	// The list, filtered to failed deliveries, shows it with a retry button.
	s.do("filter the deliveries",
		chromedp.Navigate(s.base+"/ui/deliveries"),
		chromedp.WaitVisible(chromedp.ID("f_status")),
		chromedp.SetValue(chromedp.ID("f_status"), "failed"),
	)
	s.checkLabels("deliveries page")
	s.submit("filter", chromedp.CSS(`form.filters button[type=submit]`))
	s.waitText("failed filter", `Retry`, 5*time.Second)
	s.shot("deliveries-failed")

	// The overview: the chart of the last hour and each endpoint's health.
	s.do("open the overview", chromedp.Navigate(s.base+"/ui/"), chromedp.WaitVisible(chromedp.CSS("figure.chart svg")))
	main = s.text(chromedp.CSS("main"))
	if !strings.Contains(main, "1 failed") {
		t.Errorf("overview chart does not count the failed delivery:\n%s", main)
	}
	s.checkLabels("overview")
	s.shot("overview")

	// The verification helper.
	s.do("open the verification helper", chromedp.Navigate(s.base+"/ui/verify"), chromedp.WaitVisible(chromedp.ID("headers")))
	s.checkLabels("verification helper")
	var hdr strings.Builder
	for k, v := range req.Header {
		if strings.HasPrefix(strings.ToLower(k), "webhook-") {
			fmt.Fprintf(&hdr, "%s: %s\n", k, v[0])
		}
	}
	s.do("fill the verification helper",
		chromedp.SetValue(chromedp.ID("headers"), hdr.String()),
		chromedp.SetValue(chromedp.ID("body"), string(body)),
		chromedp.SetValue(chromedp.ID("secrets"), ep.Secrets[0].Value),
	)
	s.submit("diagnose", chromedp.CSS(`main form button[type=submit]`))
	s.waitText("diagnosis", `Signature matches`, 5*time.Second)
	s.shot("verify-helper")

	// A tenant's portal: acme sees its endpoint and not globex's.
	link, err := s.ui.MintPortalLink("acme", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	s.do("open the portal link", chromedp.Navigate(s.base+link), chromedp.WaitVisible(chromedp.CSS("#open-portal")))
	s.do("confirm the portal", chromedp.Click(chromedp.CSS("#open-portal")), chromedp.WaitVisible(chromedp.CSS("table.list")))
	main = s.text(chromedp.CSS("main"))
	if !strings.Contains(main, ok.URL) || strings.Contains(main, failing.URL) || strings.Contains(main, "globex") {
		t.Errorf("acme's portal shows the wrong endpoints:\n%s", main)
	}
	s.shot("portal-acme")
	s.do("open globex's endpoint from acme's portal", chromedp.Navigate(s.base+"/ui/endpoints/"+failID))
	s.waitText("globex's endpoint is hidden", `404`, 5*time.Second)
}

// signIn signs the tab in with an API key through the sign-in page.
func (s *browserSuite) signIn(key string) {
	s.t.Helper()
	s.do("open the sign-in page", chromedp.Navigate(s.base+"/ui/login"), chromedp.WaitVisible(chromedp.ID("api_key")))
	if _, err := chromedp.RunResponse(s.ctx, chromedp.SendKeys(chromedp.ID("api_key"), key+"\r")); err != nil {
		s.t.Fatalf("sign in: %v", err)
	}
	s.waitText("signed in", `Overview`, 5*time.Second)
}

// TestBrowserSources creates an inbound source through the dashboard's
// form, sends its ingest URL a request signed as GitHub signs and a forged
// one, through the real gateway, and finds both on the source's page: the
// accepted one forwarded to the destination, the rejected one with its
// reason.
func TestBrowserSources(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newBrowserSuite(t)
	key, _ := createAPIKey(t, s.st, time.Now())
	ci := newReceiver(t, http.StatusOK, "queued")
	s.signIn(key)

	// The form: name, scheme, secret, one destination forwarding unsigned.
	s.do("open the sources", chromedp.Navigate(s.base+"/ui/sources"), chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/sources/new"]`)))
	s.checkLabels("source list")
	s.do("open the source form", chromedp.Navigate(s.base+"/ui/sources/new"), chromedp.WaitVisible(chromedp.ID("name")))
	s.checkLabels("source form")
	s.do("fill the source form",
		chromedp.SendKeys(chromedp.ID("name"), "github"),
		chromedp.SendKeys(chromedp.ID("description"), "GitHub organization"),
		chromedp.SetValue(chromedp.ID("scheme"), "github"),
		chromedp.SendKeys(chromedp.ID("secret"), "gh-webhook-secret"),
		chromedp.SendKeys(chromedp.ID("dest_url_0"), ci.URL+"/github"),
	)
	s.shot("source-form")
	s.submit("create the source", chromedp.CSS(`main form button[type=submit]`))
	s.waitText("source created", `Source created\.`, 5*time.Second)
	s.checkLabels("source page")
	ingest, err := chromedp.Run(s.ctx, chromedp.Value(chromedp.ID("ingest_url")))
	if err != nil || ingest != s.base+"/in/github" {
		t.Fatalf("ingest URL %q (%v), want %s/in/github", ingest, err, s.base)
	}

	// A request signed as GitHub signs it, to the ingest URL the page
	// shows: accepted, and forwarded to the destination.
	gh, _ := signature.Lookup("github")
	body := []byte(`{"action":"opened","pull_request":{"number":7}}`)
	signed, err := gh.Sign(signature.Message{Payload: body}, "gh-webhook-secret")
	if err != nil {
		t.Fatal(err)
	}
	send := func(h http.Header, body []byte) (int, string) {
		t.Helper()
		req, err := http.NewRequest("POST", ingest, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	signed.Header.Set("Content-Type", "application/json")
	signed.Header.Set("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
	signed.Header.Set("X-GitHub-Event", "pull_request")
	code, answer := send(signed.Header, body)
	if code != http.StatusAccepted {
		t.Fatalf("signed request: %d %s", code, answer)
	}
	var accepted struct{ ID string }
	if err := json.Unmarshal([]byte(answer), &accepted); err != nil || !strings.HasPrefix(accepted.ID, "evt_") {
		t.Fatalf("answer %s: %v", answer, err)
	}
	// A forged one: same body, another secret's signature.
	forged, _ := gh.Sign(signature.Message{Payload: body}, "not-the-secret")
	forged.Header.Set("Content-Type", "application/json")
	forged.Header.Set("Authorization", "Bearer do-not-keep")
	if code, answer := send(forged.Header, body); code != http.StatusUnauthorized {
		t.Fatalf("forged request: %d %s", code, answer)
	}

	// The source's page shows both: the accepted request and its delivery,
	// succeeded once the engine forwarded it, and the rejected one.
	loc, err := chromedp.Run(s.ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	page, _, _ := strings.Cut(loc, "?")
	s.do("reload the source page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("h-accepted")))
	deadline := time.Now().Add(15 * time.Second)
	for ci.count() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ci.count() != 1 {
		t.Fatalf("the destination got %d requests, want 1", ci.count())
	}
	ci.mu.Lock()
	fwd, fwdBody := ci.reqs[0], ci.body[0]
	ci.mu.Unlock()
	if !bytes.Equal(fwdBody, body) || fwd.Header.Get("X-Hookrelay-Source") != "github" || fwd.Header.Get("X-GitHub-Event") != "pull_request" {
		t.Errorf("forwarded %q with headers %v", fwdBody, fwd.Header)
	}
	// The delivery may have completed after the page was loaded.
	s.do("reload the source page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.ID("accepted")))
	s.waitText("both requests listed", accepted.ID+`[\s\S]*succeeded[\s\S]*signature mismatch`, 5*time.Second)
	main := s.text(chromedp.CSS("main"))
	for _, want := range []string{ci.URL + "/github", "Recent rejected requests", "1 secret,"} {
		if !strings.Contains(main, want) {
			t.Errorf("source page lacks %q", want)
		}
	}
	if strings.Contains(main, "gh-webhook-secret") {
		t.Errorf("source page shows the secret")
	}
	s.do("unfold the rejection", chromedp.Click(chromedp.CSS("article.rejection summary")))
	main = s.text(chromedp.CSS("main"))
	if !strings.Contains(main, "[redacted]") || strings.Contains(main, "do-not-keep") || !strings.Contains(main, `"pull_request":{"number":7}`) {
		t.Errorf("the rejection's headers and body:\n%s", main)
	}
	s.shot("source-recent-requests")

	// Its delivery link leads to the existing delivery page.
	s.submit("open the forwarding delivery", chromedp.CSS(`#accepted a[href^="/ui/deliveries/"]`))
	s.waitText("forwarding delivery", `HTTP 200[\s\S]*X-Hookrelay-Source`, 5*time.Second)
	s.shot("source-delivery")
}
