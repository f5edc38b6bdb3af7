package ui

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserFilter drives the endpoint form's payload filter in headless
// Chromium: "Test filter" answers on the page without saving, and the
// saved endpoint delivers only the events whose payload matches.
func TestBrowserFilter(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newBrowserSuite(t)
	ctx := context.Background()
	key, _ := createAPIKey(t, s.st, time.Now())
	rc := newReceiver(t, http.StatusOK, "ok")

	s.do("open the dashboard", chromedp.Navigate(s.base+"/ui/"), chromedp.WaitVisible(chromedp.ID("api_key")))
	if _, err := chromedp.RunResponse(s.ctx, chromedp.SendKeys(chromedp.ID("api_key"), key+"\r")); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	s.waitText("signed in", `Overview`, 5*time.Second)

	s.fillEndpoint(rc.URL+"/hooks", "Big orders", "", "")
	s.do("fill the filter",
		chromedp.SendKeys(chromedp.ID("filter"), `{"amount": {"$gt": 12345678901234567890}}`),
		chromedp.SendKeys(chromedp.ID("test_payload"), `{"amount": 12345678901234567891}`),
	)
	s.submit("test the filter", chromedp.CSS(`button[value=test-filter]`))
	s.waitText("filter matches", `The payload matches the filter`, 5*time.Second)
	s.checkLabels("endpoint form after a filter test")
	s.shot("filter-test-match")
	if eps, _, _ := s.st.ListEndpoints(ctx, storeAll()); len(eps) != 0 {
		t.Fatalf("testing the filter saved %d endpoints", len(eps))
	}
	s.do("change the test payload",
		chromedp.Clear(chromedp.ID("test_payload")),
		chromedp.SendKeys(chromedp.ID("test_payload"), `{"amount": 12345678901234567890}`),
	)
	s.submit("test the filter again", chromedp.CSS(`button[value=test-filter]`))
	s.waitText("filter does not match", `does not match the filter`, 5*time.Second)

	s.submit("create the endpoint", chromedp.CSS(`main form button.primary`))
	s.waitText("endpoint created", `Endpoint created\.`, 5*time.Second)
	s.waitText("filter shown", `Payload filter\s+\{"amount": \{"\$gt": 12345678901234567890\}\}`, 5*time.Second)
	e, err := s.st.GetEndpoint(ctx, s.currentEndpointID())
	if err != nil || string(e.Filter) != `{"amount": {"$gt": 12345678901234567890}}` {
		t.Fatalf("saved filter %q, %v", e.Filter, err)
	}
}
