package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/client"
	"github.com/hookrelay/hookrelay/signature"
)

// signedReceiver sends each request whose standard signature verifies
// with secret to got, and refuses the others.
type signedReceiver struct {
	secret chan string // the secret, once known
	got    chan []byte
}

func (rc *signedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	secret := <-rc.secret
	rc.secret <- secret
	standard, _ := signature.Lookup("standard")
	if err := standard.Verify(r.Header, body, []string{secret}, nil); err != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.got <- body
}

// TestEventTypesEndToEnd: the CLI imports an OpenAPI document's webhooks
// into a running serve, lists them, enforces a schema, and sends a type's
// example to a receiver, which gets it signed, byte for byte.
func TestEventTypesEndToEnd(t *testing.T) {
	t.Parallel()
	svc := startServe(t)
	doc := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(doc, []byte(`openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  invoice.paid:
    post:
      summary: An invoice was paid.
      requestBody:
        content:
          application/json:
            schema: {type: object, required: [id], properties: {id: {type: string}, amount: {type: integer}}}
            example: {id: in_1, amount: 123456789012345678901234567890}
  invoice.voided:
    post:
      summary: An invoice was voided.
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := svc.mustCLI(t, "", "event-types", "import", doc)
	if !strings.Contains(out, "invoice.paid") || strings.Count(out, "created") != 2 {
		t.Fatalf("import: %s", out)
	}
	// Importing again updates.
	out = svc.mustCLI(t, "", "event-types", "import", "--enforce", doc)
	if strings.Count(out, "updated") != 2 {
		t.Fatalf("second import: %s", out)
	}
	out = svc.mustCLI(t, "", "event-types", "list", "--prefix", "invoice.")
	if !strings.Contains(out, "invoice.paid") || !strings.Contains(out, "invoice.voided") {
		t.Fatalf("list: %s", out)
	}
	out = svc.mustCLI(t, "", "event-types", "get", "invoice.paid", "--json")
	var et client.EventType
	if err := json.Unmarshal([]byte(out), &et); err != nil || !et.Enforce || et.Description != "An invoice was paid." {
		t.Fatalf("get: %v: %s", err, out)
	}
	// Enforced: a payload without id is refused, and says where.
	_, errs, code := svc.cli(t, nil, `{"amount":1}`+"\n", "events", "send", "--type", "invoice.paid")
	if code == 0 || !strings.Contains(errs, "required") {
		t.Fatalf("events send breaking the schema: exit %d: %s", code, errs)
	}

	rc := &signedReceiver{secret: make(chan string, 1), got: make(chan []byte, 4)}
	recv := httptest.NewServer(rc)
	defer recv.Close()
	var ep client.Endpoint
	out = svc.mustCLI(t, "", "endpoints", "create", "--url", recv.URL+"/hook", "--event-type", "other.*", "--json")
	if err := json.Unmarshal([]byte(out), &ep); err != nil || ep.Secret == "" {
		t.Fatalf("endpoints create: %v: %s", err, out)
	}
	rc.secret <- ep.Secret
	svc.mustCLI(t, "", "event-types", "send-example", "invoice.paid", "--endpoint", ep.ID)
	select {
	case body := <-rc.got:
		if want := `{"id":"in_1","amount":123456789012345678901234567890}`; string(body) != want {
			t.Fatalf("received %s, want %s", body, want)
		}
	case <-time.After(30 * time.Second): // a failsafe, not a wait for the outcome
		t.Fatal("the example did not arrive")
	}
	svc.mustCLI(t, "", "event-types", "delete", "invoice.voided")
	if _, _, code := svc.cli(t, nil, "", "event-types", "get", "invoice.voided"); code == 0 {
		t.Fatal("get after delete succeeded")
	}
}
