package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/hookrelay/hookrelay/internal/store"
)

// TestEndpointSettingsAPI: create, get, list and patch carry every
// delivery setting, with the secrets masked in every response (and in
// the store's export, sealed); bad ones are 422 naming the field.
func TestEndpointSettingsAPI(t *testing.T) {
	t.Parallel()
	tb := setup(t, nil)
	const (
		headerValue  = "sk_live_header_secret_0001"
		password     = "basic-password-secret-0002"
		clientSecret = "oauth-client-secret-0003"
	)
	ep := tb.createEndpoint(t, map[string]any{
		"headers":                map[string]string{"X-Api-Key": headerValue},
		"auth":                   map[string]any{"type": "basic", "username": "relay", "password": password},
		"timeout_seconds":        5,
		"retry_schedule_seconds": []float64{1, 60.5},
	})
	if ep.Headers["X-Api-Key"] != "****0001" || ep.Auth == nil || ep.Auth.Password != "****0002" || ep.Auth.Username != "relay" ||
		ep.TimeoutSeconds != 5 || len(ep.RetryScheduleSeconds) != 2 || ep.RetryScheduleSeconds[1] != 60.5 {
		t.Fatalf("created: %+v", ep.settingsJSON)
	}
	stored, err := tb.store.GetEndpoint(context.Background(), ep.ID)
	if err != nil || stored.Headers["X-Api-Key"] != headerValue || stored.Auth.Password != password {
		t.Fatalf("stored: %v %v", stored, err)
	}

	// A patch of the auth keeps the headers; null schedule is the server's.
	var got endpointJSON
	must(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, map[string]any{
		"auth": map[string]any{"type": "oauth2", "token_url": "https://127.0.0.1:9/token", "client_id": "c",
			"client_secret": clientSecret, "scopes": []string{"hooks"}, "audience": "aud"},
		"retry_schedule_seconds": nil,
	}), http.StatusOK).json(t, &got)
	if got.Headers["X-Api-Key"] != "****0001" || got.Auth.Type != "oauth2" || got.Auth.ClientSecret != "****0003" ||
		got.RetryScheduleSeconds != nil || got.TimeoutSeconds != 5 {
		t.Fatalf("patched: %+v %+v", got.settingsJSON, got.Auth)
	}
	// Sending a masked value back is refused rather than stored.
	wantError(t, tb.do(t, "PATCH", "/api/v1/endpoints/"+ep.ID, map[string]any{"headers": got.Headers}),
		http.StatusUnprocessableEntity, CodeValidation, "headers[X-Api-Key]", "masked")

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"headers": map[string]string{"Content-Length": "1"}}, "headers[Content-Length]"},
		{map[string]any{"headers": map[string]string{"webhook-signature": "x"}}, "headers[webhook-signature]"},
		{map[string]any{"auth": map[string]any{"type": "bearer"}}, "auth.token"},
		{map[string]any{"client_tls": map[string]any{"cert_pem": "nope", "key_pem": "nope"}}, "client_tls.cert_pem"},
		{map[string]any{"timeout_seconds": 3600}, "timeout_seconds"},
		{map[string]any{"retry_schedule_seconds": []float64{-1}}, "retry_schedule_seconds"},
	} {
		tc.body["url"] = "https://127.0.0.1:9/hook"
		wantError(t, tb.do(t, "POST", "/api/v1/endpoints", tc.body), http.StatusUnprocessableEntity, CodeValidation, tc.field)
	}

	// No secret in clear in a get, a list, or an export.
	var export bytes.Buffer
	if err := tb.store.Export(context.Background(), func(r store.Record) error {
		export.Write(r.Data)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for what, body := range map[string]string{
		"get":    string(tb.do(t, "GET", "/api/v1/endpoints/"+ep.ID, nil).body),
		"list":   string(tb.do(t, "GET", "/api/v1/endpoints", nil).body),
		"export": export.String(),
	} {
		for _, s := range []string{headerValue, password, clientSecret} {
			if strings.Contains(body, s) {
				t.Errorf("%s holds a secret in clear: %.12s...", what, s)
			}
		}
	}
}
