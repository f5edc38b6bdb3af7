package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDiagnoseCommand(t *testing.T) {
	t.Parallel()
	headers := []string{"--header", "webhook-id: " + stdID, "--header", "webhook-timestamp: " + stdTS, "--header", "webhook-signature: " + stdSig}
	code, out, _ := runCmd(t, stdPayload+"\n", nil, append([]string{"diagnose", "--secret", stdSecret}, headers...)...)
	if code != 0 || !strings.Contains(out, "trailing newline removed") || !strings.Contains(out, "verify --now "+stdTS) {
		t.Errorf("diagnose: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, stdPayload, nil, append([]string{"diagnose", "--json", "--secret", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, headers...)...)
	var d struct {
		Matched bool
		Cause   string
	}
	if err := json.Unmarshal([]byte(out), &d); code != 1 || err != nil || d.Matched || !strings.Contains(d.Cause, "secret is most likely wrong") {
		t.Errorf("diagnose --json, wrong secret: exit %d %v\n%s", code, err, out)
	}
	if code, _, errs := runCmd(t, "", nil, "diagnose", "--secret", "k"); code != 2 || !strings.Contains(errs, "--header") {
		t.Errorf("diagnose without headers: exit %d %q", code, errs)
	}
}
