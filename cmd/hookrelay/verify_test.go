package main

import (
	"strings"
	"testing"
)

func TestVerifyCommand(t *testing.T) {
	t.Parallel()
	std := []string{"verify", "--scheme", "standard", "--header", "webhook-id: " + stdID, "--header", "WEBHOOK-TIMESTAMP:" + stdTS, "--header", "Webhook-Signature: " + stdSig}
	tests := []struct {
		name  string
		args  []string
		vars  map[string]string
		body  string
		code  int
		inErr string
	}{
		{"standard", append(std, "--secret", stdSecret, "--now", stdTS), nil, stdPayload, 0, ""},
		{"rotation", append(std, "--secret", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--secret", stdSecret, "--now", stdTS), nil, stdPayload, 0, ""},
		{"env secret", append(std, "--now", stdTS), map[string]string{"HOOKRELAY_SECRET": stdSecret}, stdPayload, 0, ""},
		{"expired", append(std, "--secret", stdSecret), nil, stdPayload, 1, "timestamp outside tolerance"},
		{"tolerance", append(std, "--secret", stdSecret, "--now", "1614265930", "--tolerance", "11m"), nil, stdPayload, 0, ""},
		{"tampered", append(std, "--secret", stdSecret, "--now", stdTS), nil, stdPayload + "\n", 1, "no signature matched"},
		{"wrong secret", append(std, "--secret", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "--now", stdTS), nil, stdPayload, 1, "no signature matched"},
		{"github", []string{"verify", "--scheme", "github", "--secret", ghSecret, "--header", "x-hub-signature-256: " + strings.ToUpper(ghSig[:7]) + ghSig[7:]}, nil, "Hello, World!", 1, "does not start with"},
		{"github upper hex", []string{"verify", "--scheme", "github", "--secret", ghSecret, "--header", "x-hub-signature-256: sha256=" + strings.ToUpper(ghSig[7:])}, nil, "Hello, World!", 0, ""},
		{"missing header", []string{"verify", "--scheme", "github", "--secret", ghSecret}, nil, "Hello, World!", 1, "missing signature header"},
		{"bad header flag", []string{"verify", "--scheme", "github", "--secret", ghSecret, "--header", "no colon"}, nil, "", 2, "want 'Name: value'"},
		{"bad --now", append(std, "--secret", stdSecret, "--now", "yesterday"), nil, stdPayload, 2, "--now"},
		{"no secret", std, nil, stdPayload, 2, "secret is required"},
		{"bad secret", append(std, "--secret", "whsec_!!"), nil, stdPayload, 1, "invalid secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errs := runCmd(t, tt.body, tt.vars, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.inErr) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errs, tt.code, tt.inErr)
			}
			if code == 0 && out == "" {
				t.Error("no confirmation on stdout")
			}
			if strings.Contains(errs, stdSecret[6:]) {
				t.Errorf("stderr leaks the secret: %q", errs)
			}
		})
	}
}
