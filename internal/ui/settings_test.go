package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestEndpointSettingsForm: the endpoint form sets headers, bearer auth,
// a timeout and a retry schedule; the endpoint page, the list, the edit
// form and a refused form never show the secrets in clear; an edit that
// leaves the secret fields empty keeps them.
func TestEndpointSettingsForm(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	c := b.admin()
	const (
		headerValue = "sk_live_ui_header_secret_4242"
		token       = "ui-bearer-token-secret-5353"
	)
	r := c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/x"}, "scheme": {"standard"}, "enabled": {"1"},
		"headers": {"X-Api-Key: " + headerValue}, "auth_type": {"bearer"}, "auth_token": {token},
		"timeout_seconds": {"7"}, "retry_schedule": {"10s, 1m"}}, "/ui/endpoints/new")
	if r.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", r.status, r.body)
	}
	id := strings.TrimPrefix(r.location, "/ui/endpoints/")
	id, _, _ = strings.Cut(id, "?")
	e, err := b.st.GetEndpoint(context.Background(), id)
	if err != nil || e.Headers["X-Api-Key"] != headerValue || e.Auth == nil || e.Auth.Token != token ||
		e.Timeout != 7*time.Second || len(e.RetrySchedule) != 2 || e.RetrySchedule[1] != time.Minute {
		t.Fatalf("stored: %+v %v", e, err)
	}
	page := c.get("/ui/endpoints/" + id).body
	if !strings.Contains(page, "X-Api-Key: ****4242") || !strings.Contains(page, "bearer") || !strings.Contains(page, "7s") {
		t.Errorf("endpoint page does not show the settings:\n%s", page)
	}
	// A refused form is shown again without the secrets typed into it.
	refused := c.post("/ui/endpoints", url.Values{"url": {"http://127.0.0.1:9/y"}, "scheme": {"standard"},
		"headers": {"Content-Length: 1\nX-Other: " + headerValue}, "auth_type": {"bearer"}, "auth_token": {token}}, "/ui/endpoints/new")
	if refused.status != http.StatusUnprocessableEntity || !strings.Contains(refused.body, "headers[Content-Length]") {
		t.Errorf("refused header: %d\n%s", refused.status, refused.body)
	}
	// Saving the edit form as shown changes no setting.
	edit := c.get("/ui/endpoints/" + id + "/edit").body
	r = c.post("/ui/endpoints/"+id, url.Values{"url": {e.URL}, "scheme": {"standard"}, "enabled": {"1"},
		"timeout_seconds": {"7"}, "retry_schedule": {"10s, 1m"}}, "/ui/endpoints/"+id+"/edit")
	if r.status != http.StatusSeeOther {
		t.Fatalf("edit: %d\n%s", r.status, r.body)
	}
	if got, _ := b.st.GetEndpoint(context.Background(), id); got.Headers["X-Api-Key"] != headerValue || got.Auth == nil || got.Auth.Token != token {
		t.Errorf("an edit without secrets lost them: %+v", got)
	}
	for what, body := range map[string]string{"page": page, "list": c.get("/ui/endpoints").body, "edit": edit, "refused": refused.body} {
		for _, s := range []string{headerValue, token} {
			if strings.Contains(body, s) {
				t.Errorf("the %s shows a secret in clear: %.10s...", what, s)
			}
		}
	}
}
