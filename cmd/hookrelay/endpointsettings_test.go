package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestEndpointSettingsCLI: an endpoint made with the CLI's settings flags
// sends its header and basic credentials to a loopback receiver; get,
// list and --json show them masked, and the service logs, the attempt log
// and an export (after serve stopped) hold neither secret in clear.
func TestEndpointSettingsCLI(t *testing.T) {
	t.Parallel()
	const (
		headerValue = "sk_live_cli_header_secret_77"
		password    = "cli-basic-password-secret-88"
	)
	got := make(chan http.Header, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	defer recv.Close()
	svc := startServe(t, "--max-endpoint-timeout", "20s")
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--header", "X-Api-Key: "+headerValue,
		"--auth", "basic", "--auth-user", "relay", "--auth-password-file", pwFile, "--request-timeout", "5s",
		"--retry-schedule", "none", "--json")
	if strings.Contains(out, headerValue) || strings.Contains(out, password) || !strings.Contains(out, `"timeout_seconds":5`) {
		t.Fatalf("endpoints create: %s", out)
	}
	if _, errs, code := svc.cli(t, nil, "", "endpoints", "create", "--url", recv.URL+"/x", "--request-timeout", "21s"); code == 0 ||
		!strings.Contains(errs, "timeout_seconds") {
		t.Errorf("a timeout past --max-endpoint-timeout: exit %d: %s", code, errs)
	}
	svc.mustCLI(t, `{"n":1}`, "events", "send", "--type", "x")
	select {
	case h := <-got:
		if u, p, ok := (&http.Request{Header: h}).BasicAuth(); h.Get("X-Api-Key") != headerValue || !ok || u != "relay" || p != password {
			t.Fatalf("receiver got %v", h)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no delivery within 30s")
	}
	var all strings.Builder
	all.WriteString(svc.mustCLI(t, "", "endpoints", "list"))
	all.WriteString(svc.mustCLI(t, "", "endpoints", "list", "--json"))
	all.WriteString(svc.mustCLI(t, "", "deliveries", "list", "--json"))
	list := svc.mustCLI(t, "", "endpoints", "list", "--json")
	id := list[strings.Index(list, `"id":"`)+6:]
	id = id[:strings.IndexByte(id, '"')]
	get := svc.mustCLI(t, "", "endpoints", "get", id)
	if !strings.Contains(get, "****"+headerValue[len(headerValue)-4:]) { // the mask keeps the last 4
		t.Errorf("endpoints get does not show the masked header: %s", get)
	}
	ds := svc.mustCLI(t, "", "deliveries", "list", "--json")
	did := ds[strings.Index(ds, `"id":"`)+6:]
	did = did[:strings.IndexByte(did, '"')]
	// The attempt is recorded once the receiver has answered: poll for
	// the condition (not a fixed wait), for at most 30s.
	var attempts string
	tick, timeout := time.NewTicker(20*time.Millisecond), time.After(30*time.Second)
	defer tick.Stop()
	for attempts = svc.mustCLI(t, "", "deliveries", "get", did, "--json"); !strings.Contains(attempts, `"succeeded"`); {
		select {
		case <-tick.C:
			attempts = svc.mustCLI(t, "", "deliveries", "get", did, "--json")
		case <-timeout:
			t.Fatalf("delivery not recorded as succeeded within 30s: %s", attempts)
		}
	}
	if !strings.Contains(attempts, "[redacted]") {
		t.Errorf("deliveries get: the attempt's headers are not redacted: %s", attempts)
	}
	all.WriteString(attempts)
	if !strings.Contains(get, "basic (user relay)") || !strings.Contains(get, "5s") {
		t.Errorf("endpoints get: %s", get)
	}
	all.WriteString(get)
	// And an export, once serve has stopped: the settings travel sealed.
	svc.cancel()
	code := <-svc.done
	svc.done <- code // for startServe's cleanup
	e, dump, errb := testEnv(nil, "")
	if code := run(context.Background(), e, []string{"export", "--data", svc.dir}); code != 0 || !strings.Contains(dump.String(), `"sealed_settings"`) {
		t.Fatalf("export: exit %d: %s\n%s", code, errb, dump)
	}
	all.WriteString(dump.String())
	all.WriteString(svc.stderr.String())
	for _, s := range []string{headerValue, password} {
		if strings.Contains(all.String(), s) {
			t.Errorf("a secret is in clear in the CLI output or the logs: %.10s...", s)
		}
	}
}
