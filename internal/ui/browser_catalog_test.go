package ui

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookrelay/hookrelay/signature"
)

// TestBrowserCatalog drives the catalog pages in headless Chromium with a
// real delivery engine and a loopback receiver: create a type with a
// schema (an invalid schema first, whose error the page shows), edit it,
// see the endpoint form offer it, send its example to an endpoint and
// verify the signed request the receiver got, then erase the event's
// payload from the delivery page.
func TestBrowserCatalog(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	s := newBrowserSuite(t)
	ctx := context.Background()
	key, _ := createAPIKey(t, s.st, time.Now())
	rc := newReceiver(t, http.StatusOK, "ok")
	s.signIn(key)

	s.do("open the catalog", chromedp.Navigate(s.base+"/ui/event-types"), chromedp.WaitVisible(chromedp.ID("new-event-type")))
	s.submit("open the event type form", chromedp.CSS("#new-event-type"))
	s.do("wait for the form", chromedp.WaitVisible(chromedp.ID("schema")))
	s.checkLabels("event type form")
	s.do("fill the form with an invalid schema",
		chromedp.SendKeys(chromedp.ID("name"), "invoice.paid"),
		chromedp.SendKeys(chromedp.ID("description"), "An invoice was paid"),
		chromedp.SetValue(chromedp.ID("schema"), `{"type":"objekt"}`),
		chromedp.SetValue(chromedp.ID("example"), `{"id":"in_1","amount":42}`),
	)
	s.submit("submit the invalid schema", chromedp.CSS("#save-event-type"))
	s.waitText("schema error shown", `Please fix the following[\s\S]*JSON Schema`, 5*time.Second)
	s.shot("event-type-schema-error")
	if _, err := s.st.GetEventType(ctx, "invoice.paid"); err == nil {
		t.Fatal("a type with an invalid schema was stored")
	}
	s.do("fix the schema",
		chromedp.SetValue(chromedp.ID("schema"), `{"type":"object","required":["id","amount"],"properties":{"amount":{"type":"integer"}}}`),
		chromedp.Click(chromedp.ID("enforce")),
	)
	s.submit("create the event type", chromedp.CSS("#save-event-type"))
	s.waitText("event type created", `Event type created\.[\s\S]*invoice\.paid[\s\S]*enforced`, 5*time.Second)
	s.checkLabels("event type page")

	s.submit("open the edit form", chromedp.CSS("#edit-event-type"))
	s.do("edit the description", chromedp.WaitVisible(chromedp.ID("description")), chromedp.SetValue(chromedp.ID("description"), "An invoice was paid in full"))
	s.submit("save the event type", chromedp.CSS("#save-event-type"))
	s.waitText("event type saved", `Event type saved\.[\s\S]*An invoice was paid in full`, 5*time.Second)
	if et, err := s.st.GetEventType(ctx, "invoice.paid"); err != nil || et.Description != "An invoice was paid in full" || !et.Enforce ||
		string(et.Example) != `{"id":"in_1","amount":42}` {
		t.Fatalf("stored type: %+v, %v", et, err)
	}

	// The endpoint form offers the type and its group.
	s.fillEndpoint(rc.URL+"/hooks", "Billing", "acme", "invoice.*")
	offered, err := chromedp.Run(s.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#catalog-types option")].map(o => o.value)`))
	if err != nil || !slices.Contains(offered, "invoice.*") || !slices.Contains(offered, "invoice.paid") {
		t.Fatalf("the endpoint form offers %v (%v)", offered, err)
	}
	s.submit("create the endpoint", chromedp.CSS(`main form button[type=submit]`))
	s.waitText("endpoint created", `Endpoint created\.`, 5*time.Second)
	epID := s.currentEndpointID()

	// Send example: the delivery page it leads to shows the attempt.
	s.do("open the event type", chromedp.Navigate(s.base+"/ui/event-types/invoice.paid"), chromedp.WaitVisible(chromedp.ID("send-example")))
	s.checkLabels("event type page with send example")
	s.do("choose the endpoint", chromedp.SetValue(chromedp.ID("endpoint_id"), epID))
	s.submit("send the example", chromedp.CSS("#send-example"))
	s.waitText("example delivered", `Example sent\.[\s\S]*HTTP 200`, 15*time.Second)
	s.shot("example-delivered")
	if rc.count() != 1 {
		t.Fatalf("the receiver got %d requests, want 1", rc.count())
	}
	ep, err := s.st.GetEndpoint(ctx, epID)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	req, body := rc.reqs[0], rc.body[0]
	rc.mu.Unlock()
	std, _ := signature.Lookup("standard")
	if err := std.Verify(req.Header, body, []string{ep.Secrets[0].Value}, nil); err != nil {
		t.Errorf("the example request does not verify with the endpoint's secret: %v", err)
	}
	if !strings.Contains(string(body), `"amount":42`) {
		t.Errorf("the receiver got %s, want the example payload", body)
	}

	// Erase the payload from the delivery page.
	s.do("unfold erase", chromedp.Click(chromedp.CSS("details.erase summary")), chromedp.WaitVisible(chromedp.ID("erase-payload")))
	s.submit("erase the payload", chromedp.CSS("#erase-payload"))
	s.waitText("payload erased", `Payload erased`, 5*time.Second)
	s.shot("payload-erased")
	if strings.Contains(s.text(chromedp.CSS("main")), `"amount": 42`) {
		t.Errorf("the page still shows the payload")
	}
}
