package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hookrelay/hookrelay/client"
)

// settingsFlags are the flags of an endpoint's delivery settings, which
// create and update share. Secrets can come from files (--*-file), to
// keep them out of ps and shell history.
type settingsFlags struct {
	headers                                     stringList
	clearHeaders                                bool
	auth, user, password, passwordFile, token   string
	tokenFile, tokenURL, clientID, clientSecret string
	clientSecretFile, audience                  string
	scopes                                      stringList
	clientCert, clientKey, caBundle             string
	noClientCert                                bool
	timeout                                     time.Duration
	retrySchedule                               string
}

func (f *settingsFlags) define(fs *flag.FlagSet, update bool) {
	fs.Var(&f.headers, "header", "static header sent with every delivery, \"Name: value\", repeatable (replaces all of them); @FILE as the value reads it from FILE")
	fs.StringVar(&f.auth, "auth", "", "authentication to the receiver: basic, bearer, oauth2 (client credentials), or none")
	fs.StringVar(&f.user, "auth-user", "", "basic: user name")
	fs.StringVar(&f.password, "auth-password", "", "basic: password")
	fs.StringVar(&f.passwordFile, "auth-password-file", "", "basic: file holding the password")
	fs.StringVar(&f.token, "auth-token", "", "bearer: token")
	fs.StringVar(&f.tokenFile, "auth-token-file", "", "bearer: file holding the token")
	fs.StringVar(&f.tokenURL, "oauth-token-url", "", "oauth2: token URL")
	fs.StringVar(&f.clientID, "oauth-client-id", "", "oauth2: client id")
	fs.StringVar(&f.clientSecret, "oauth-client-secret", "", "oauth2: client secret")
	fs.StringVar(&f.clientSecretFile, "oauth-client-secret-file", "", "oauth2: file holding the client secret")
	fs.Var(&f.scopes, "oauth-scope", "oauth2: scope to ask for, repeatable")
	fs.StringVar(&f.audience, "oauth-audience", "", "oauth2: audience parameter")
	fs.StringVar(&f.clientCert, "client-cert", "", "PEM file of the client certificate for mutual TLS (with --client-key)")
	fs.StringVar(&f.clientKey, "client-key", "", "PEM file of the client certificate's private key")
	fs.StringVar(&f.caBundle, "ca-bundle", "", "PEM file of the CAs to trust for this endpoint instead of the system's")
	fs.DurationVar(&f.timeout, "request-timeout", 0, "request timeout of this endpoint, up to the server's --max-endpoint-timeout (0: the server's)")
	fs.StringVar(&f.retrySchedule, "retry-schedule", "", "this endpoint's delays between attempts, such as 10s,1m,10m; \"none\" for no retries; \"server\" for the server's")
	if update {
		fs.BoolVar(&f.clearHeaders, "clear-headers", false, "remove every static header")
		fs.BoolVar(&f.noClientCert, "no-client-cert", false, "remove the client certificate and CA bundle")
	}
}

// readValue returns v, or the trimmed content of file when file is set.
func readValue(flagName, v, file string) (string, error) {
	if file == "" {
		return v, nil
	}
	if v != "" {
		return "", usagef("give --%s or --%s-file, not both", flagName, flagName)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read --%s-file: %w", flagName, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func readPEM(flagName, file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read --%s: %w", flagName, err)
	}
	return string(b), nil
}

// settingsValues are the delivery settings the flags ask for, as the
// client sends them; a nil field asks for no change (on create: the
// server's default). schedule points to nil for the server's schedule.
type settingsValues struct {
	headers  *map[string]string
	auth     *client.ReceiverAuth
	tls      *client.ClientTLS
	timeout  *float64
	schedule *[]float64
}

// values returns the settings of the flags in set (all when set is nil).
func (f *settingsFlags) values(set map[string]bool) (settingsValues, error) {
	var out settingsValues
	has := func(name string) bool { return set == nil || set[name] }
	if f.clearHeaders {
		if len(f.headers) > 0 {
			return out, usagef("give --header or --clear-headers, not both")
		}
		out.headers = &map[string]string{}
	}
	if len(f.headers) > 0 {
		h := map[string]string{}
		for _, kv := range f.headers {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return out, usagef("--header %q: want \"Name: value\"", k)
			}
			v = strings.TrimSpace(v)
			if name, ok := strings.CutPrefix(v, "@"); ok {
				raw, err := os.ReadFile(name)
				if err != nil {
					return out, fmt.Errorf("read --header %s: %w", strings.TrimSpace(k), err)
				}
				v = strings.TrimSpace(string(raw))
			}
			h[strings.TrimSpace(k)] = v
		}
		out.headers = &h
	}
	if has("auth") && f.auth != "" {
		a := &client.ReceiverAuth{} // none: a zero ReceiverAuth removes it
		switch f.auth {
		case "none":
		case "basic":
			pw, err := readValue("auth-password", f.password, f.passwordFile)
			if err != nil {
				return out, err
			}
			a = &client.ReceiverAuth{Type: "basic", Username: f.user, Password: pw}
		case "bearer":
			tok, err := readValue("auth-token", f.token, f.tokenFile)
			if err != nil {
				return out, err
			}
			a = &client.ReceiverAuth{Type: "bearer", Token: tok}
		case "oauth2":
			cs, err := readValue("oauth-client-secret", f.clientSecret, f.clientSecretFile)
			if err != nil {
				return out, err
			}
			a = &client.ReceiverAuth{Type: "oauth2", TokenURL: f.tokenURL, ClientID: f.clientID, ClientSecret: cs,
				Scopes: []string(f.scopes), Audience: f.audience}
		default:
			return out, usagef("--auth %q: want basic, bearer, oauth2 or none", f.auth)
		}
		out.auth = a
	} else if f.user != "" || f.password != "" || f.token != "" || f.tokenURL != "" || f.clientID != "" {
		return out, usagef("give --auth with the credentials")
	}
	if f.noClientCert {
		out.tls = &client.ClientTLS{}
	} else if f.clientCert != "" || f.clientKey != "" || f.caBundle != "" {
		t := &client.ClientTLS{}
		for _, x := range []struct {
			name, file string
			dst        *string
		}{{"client-cert", f.clientCert, &t.CertPEM}, {"client-key", f.clientKey, &t.KeyPEM}, {"ca-bundle", f.caBundle, &t.CAPEM}} {
			if x.file == "" {
				continue
			}
			p, err := readPEM(x.name, x.file)
			if err != nil {
				return out, err
			}
			*x.dst = p
		}
		out.tls = t
	}
	if has("request-timeout") && (set != nil || f.timeout != 0) {
		out.timeout = new(f.timeout.Seconds())
	}
	if has("retry-schedule") && f.retrySchedule != "" {
		switch f.retrySchedule {
		case "server":
			out.schedule = new([]float64(nil))
		case "none":
			out.schedule = new([]float64{})
		default:
			var d durationList
			if err := d.Set(f.retrySchedule); err != nil {
				return out, usagef("--retry-schedule: %v", err)
			}
			secs := make([]float64, len(d))
			for i, x := range d {
				secs[i] = x.Seconds()
			}
			out.schedule = &secs
		}
	}
	return out, nil
}
