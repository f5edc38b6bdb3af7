package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hookrelay/hookrelay/signature"
)

// maxVerifySecrets bounds the secrets the verification helper tries.
const maxVerifySecrets = 10

// verifyForm is the verification helper's fields as typed.
type verifyForm struct {
	Body    string
	Headers string
	Secrets string
	CRLF    bool // keep the body's line breaks as CRLF
}

// verifyData is the verification helper's content.
type verifyData struct {
	Form      verifyForm
	Errors    []string
	Diagnosis *signature.Diagnosis
	// Custom is the matching custom scheme's configuration as JSON, ready
	// to paste into an endpoint's form.
	Custom string
}

// verifyPage shows the empty verification helper.
func (u *UI) verifyPage(w http.ResponseWriter, r *http.Request, s *session) error {
	u.render(w, r, s, http.StatusOK, "verify", &verifyData{})
	return nil
}

// verify runs signature.Diagnose on a pasted request and shows the
// verdict. Nothing typed is logged or stored.
func (u *UI) verify(w http.ResponseWriter, r *http.Request, s *session) error {
	p := r.PostForm
	f := verifyForm{Body: p.Get("body"), Headers: p.Get("headers"), Secrets: p.Get("secrets"), CRLF: p.Get("crlf") != ""}
	data := &verifyData{Form: f}
	h, err := parseHeaders(f.Headers)
	if err != nil {
		data.Errors = append(data.Errors, err.Error())
	}
	var secrets []string
	for _, line := range strings.Split(f.Secrets, "\n") {
		// Only the line break is dropped: white space around a secret is
		// a slip Diagnose reports.
		line = strings.TrimSuffix(line, "\r")
		if line != "" {
			secrets = append(secrets, line)
		}
	}
	if len(secrets) == 0 {
		data.Errors = append(data.Errors, "give at least one secret")
	}
	if len(secrets) > maxVerifySecrets {
		data.Errors = append(data.Errors, fmt.Sprintf("give at most %d secrets", maxVerifySecrets))
	}
	if len(h) == 0 && err == nil {
		data.Errors = append(data.Errors, "give the request's headers, one per line, such as webhook-signature: v1,...")
	}
	if len(data.Errors) > 0 {
		u.render(w, r, s, http.StatusUnprocessableEntity, "verify", data)
		return nil
	}
	// Browsers send a textarea's line breaks as CRLF; the body was most
	// likely sent with LF.
	body := f.Body
	if !f.CRLF {
		body = strings.ReplaceAll(body, "\r\n", "\n")
	}
	d := signature.Diagnose(h, []byte(body), secrets)
	data.Diagnosis = &d
	if d.Custom != nil {
		if b, err := json.MarshalIndent(d.Custom, "", "  "); err == nil {
			data.Custom = string(b)
		}
	}
	u.render(w, r, s, http.StatusOK, "verify", data)
	return nil
}

// parseHeaders reads headers pasted one per line as "Name: value"; blank
// lines are skipped.
func parseHeaders(text string) (http.Header, error) {
	h := http.Header{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("header line %d is not of the form Name: value", i+1)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}
