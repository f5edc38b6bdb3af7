package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
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

// add puts the request fields of the flags in set (all when set is nil)
// into b.
func (f *settingsFlags) add(b map[string]any, set map[string]bool) error {
	has := func(name string) bool { return set == nil || set[name] }
	if f.clearHeaders {
		if len(f.headers) > 0 {
			return usagef("give --header or --clear-headers, not both")
		}
		b["headers"] = map[string]string{}
	}
	if len(f.headers) > 0 {
		h := map[string]string{}
		for _, kv := range f.headers {
			k, v, ok := strings.Cut(kv, ":")
			if !ok {
				return usagef("--header %q: want \"Name: value\"", k)
			}
			v = strings.TrimSpace(v)
			if name, ok := strings.CutPrefix(v, "@"); ok {
				raw, err := os.ReadFile(name)
				if err != nil {
					return fmt.Errorf("read --header %s: %w", strings.TrimSpace(k), err)
				}
				v = strings.TrimSpace(string(raw))
			}
			h[strings.TrimSpace(k)] = v
		}
		b["headers"] = h
	}
	if has("auth") && f.auth != "" {
		a := map[string]any{}
		switch f.auth {
		case "none":
		case "basic":
			pw, err := readValue("auth-password", f.password, f.passwordFile)
			if err != nil {
				return err
			}
			a = map[string]any{"type": "basic", "username": f.user, "password": pw}
		case "bearer":
			tok, err := readValue("auth-token", f.token, f.tokenFile)
			if err != nil {
				return err
			}
			a = map[string]any{"type": "bearer", "token": tok}
		case "oauth2":
			cs, err := readValue("oauth-client-secret", f.clientSecret, f.clientSecretFile)
			if err != nil {
				return err
			}
			a = map[string]any{"type": "oauth2", "token_url": f.tokenURL, "client_id": f.clientID, "client_secret": cs,
				"scopes": []string(f.scopes), "audience": f.audience}
		default:
			return usagef("--auth %q: want basic, bearer, oauth2 or none", f.auth)
		}
		b["auth"] = a
	} else if f.user != "" || f.password != "" || f.token != "" || f.tokenURL != "" || f.clientID != "" {
		return usagef("give --auth with the credentials")
	}
	if f.noClientCert {
		b["client_tls"] = map[string]string{}
	} else if f.clientCert != "" || f.clientKey != "" || f.caBundle != "" {
		t := map[string]string{}
		for name, dst := range map[string]string{"client-cert": "cert_pem", "client-key": "key_pem", "ca-bundle": "ca_pem"} {
			file := map[string]string{"client-cert": f.clientCert, "client-key": f.clientKey, "ca-bundle": f.caBundle}[name]
			if file == "" {
				continue
			}
			p, err := readPEM(name, file)
			if err != nil {
				return err
			}
			t[dst] = p
		}
		b["client_tls"] = t
	}
	if has("request-timeout") && (set != nil || f.timeout != 0) {
		b["timeout_seconds"] = f.timeout.Seconds()
	}
	if has("retry-schedule") && f.retrySchedule != "" {
		switch f.retrySchedule {
		case "server":
			b["retry_schedule_seconds"] = nil
		case "none":
			b["retry_schedule_seconds"] = []float64{}
		default:
			var d durationList
			if err := d.Set(f.retrySchedule); err != nil {
				return usagef("--retry-schedule: %v", err)
			}
			secs := make([]float64, len(d))
			for i, x := range d {
				secs[i] = x.Seconds()
			}
			b["retry_schedule_seconds"] = secs
		}
	}
	return nil
}
