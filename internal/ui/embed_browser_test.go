package ui

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// hostPage serves a page of another site that frames src, as a vendor's
// app embeds the portal. Its origin is on 127.0.0.1, another site than
// the dashboard's localhost (where Chromium keeps Secure cookies over
// plain http).
func hostPage(t *testing.T, src *atomic.Value) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>vendor app</title><h1>Vendor app</h1><iframe id="portal" src="%s" width="1000" height="700"></iframe>`, src.Load())
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestBrowserFramedPortal: the portal framed by an allowed origin renders
// branded, its cookie works inside the frame (the portal opens and lists
// the tenant's endpoints), and a frame of another origin is refused.
func TestBrowserFramedPortal(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing: run scripts/chromium.sh first", chromiumPath)
		}
		t.Skipf("%s is missing (scripts/chromium.sh installs it)", chromiumPath)
	}
	var src atomic.Value
	allowed, other := hostPage(t, &src), hostPage(t, &src)

	st := openStore(t)
	sessionKey := make([]byte, 32)
	rand.Read(sessionKey)
	u, err := New(Config{
		Store: st, SessionKey: sessionKey, AllowPrivateNetworks: true,
		FrameAncestors: []string{allowed},
		Branding:       Branding{ProductName: "Acme Hooks", AccentColor: "#c81e5a", Pages: []string{PageEndpoints, PageDeliveries}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui/", u)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	portalBase := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	b := &testBundle{t: t, st: st, ui: u, srv: srv, clock: &testClock{t: time.Now()}}
	b.endpoint("acme", "http://127.0.0.1:9/acme-hook", "acme's endpoint")
	b.endpoint("globex", "http://127.0.0.1:9/globex-hook", "globex's endpoint")
	link, err := u.MintPortalLink("acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	src.Store(portalBase + link)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	tab, cancelTimeout := context.WithTimeout(tab, 60*time.Second)
	t.Cleanup(cancelTimeout)

	// portalFrame waits for the frame target showing the dashboard.
	portalFrame := func() (*target.Info, bool) {
		for range 50 {
			ts, err := chromedp.Targets(tab)
			if err != nil {
				t.Fatal(err)
			}
			for _, ti := range ts {
				if ti.Type == "iframe" && strings.HasPrefix(ti.URL, portalBase) {
					return ti, true
				}
			}
			if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.readyState === "complete"`)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-tab.Done():
				t.Fatal(tab.Err())
			case <-time.After(0):
			}
		}
		return nil, false
	}

	// Framed by the allowed origin: rendered, branded.
	if err := chromedp.Do(tab, chromedp.Navigate(allowed), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	ti, ok := portalFrame()
	if !ok {
		t.Fatalf("the frame of the allowed origin %s shows no portal", allowed)
	}
	frame, cancelFrame := chromedp.NewContext(tab, chromedp.WithTargetID(ti.TargetID))
	_ = cancelFrame // closing it would close the frame's target
	if err := chromedp.Do(frame, chromedp.WaitVisible(chromedp.ID("open-portal"))); err != nil {
		t.Fatalf("portal confirmation in the frame: %v", err)
	}
	brand, err := chromedp.Run(frame, chromedp.Text(chromedp.CSS(".brand")))
	if err != nil || !strings.Contains(brand, "Acme Hooks") {
		t.Errorf("brand %q (%v), want Acme Hooks", brand, err)
	}
	// Opening the portal inside the frame needs the cookie the frame got.
	if _, err := chromedp.RunResponse(frame, chromedp.Click(chromedp.ID("open-portal"))); err != nil {
		t.Fatalf("open the portal in the frame: %v", err)
	}
	if _, err := chromedp.Run(frame, chromedp.Poll[bool](`/acme-hook/.test(document.body.innerText)`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		txt, _ := chromedp.Run(frame, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("the framed portal never listed acme's endpoint: %v\n%s", err, txt)
	}
	body, _ := chromedp.Run(frame, chromedp.Text(chromedp.CSS("body")))
	if strings.Contains(body, "globex-hook") || strings.Contains(body, "Verify a signature") || !strings.Contains(body, "Acme Hooks") {
		t.Errorf("framed portal page:\n%s", body)
	}
	accent, err := chromedp.Run(frame, chromedp.Evaluate[string](`getComputedStyle(document.documentElement).getPropertyValue("--accent").trim()`))
	if err != nil || accent != "#c81e5a" {
		t.Errorf("accent %q (%v), want #c81e5a", accent, err)
	}

	// Framed by another origin: refused, the dashboard never renders.
	if err := chromedp.Do(tab, chromedp.Navigate(other), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	// Chromium keeps the frame's target, with an error page in it.
	if ti, ok := portalFrame(); ok {
		frame, cancel := chromedp.NewContext(tab, chromedp.WithTargetID(ti.TargetID))
		shown, err := chromedp.Run(frame, chromedp.Evaluate[string](`location.href + " " + (document.querySelector("#open-portal") ? "portal" : "nothing")`))
		_ = cancel
		if err == nil && strings.HasSuffix(shown, " portal") {
			t.Fatalf("a frame of %s shows the portal: %s", other, shown)
		}
		t.Logf("the frame of %s: %s (%v)", other, shown, err)
	}

}
