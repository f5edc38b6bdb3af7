package store

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// Kinds of ReceiverAuth.
const (
	AuthBasic  = "basic"  // Authorization: Basic with Username and Password
	AuthBearer = "bearer" // Authorization: Bearer Token
	AuthOAuth2 = "oauth2" // an OAuth2 client-credentials token, as a bearer token
)

// ReceiverAuth is how deliveries authenticate to an endpoint's receiver.
// Stores keep it sealed with the endpoint's headers and client
// certificate (the settings column); in memory it is plain text.
type ReceiverAuth struct {
	Type     string `json:"type"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Token    string `json:"token,omitempty"`
	// TokenURL, ClientID, ClientSecret, Scopes and Audience are those of
	// an OAuth2 client-credentials grant (Type "oauth2").
	TokenURL     string   `json:"token_url,omitempty"`
	ClientID     string   `json:"client_id,omitempty"`
	ClientSecret string   `json:"client_secret,omitempty"`
	Scopes       []string `json:"scopes,omitempty"`
	Audience     string   `json:"audience,omitempty"`
}

// String keeps the credentials out of formatted output.
func (a ReceiverAuth) String() string { return "[auth " + a.Type + "]" }

// LogValue keeps the credentials out of logs.
func (a ReceiverAuth) LogValue() slog.Value { return slog.StringValue(a.String()) }

// ClientTLS is the client certificate an endpoint's deliveries present
// (mutual TLS), and the CA bundle they trust for it instead of the
// system's roots, when set. PEM text; sealed at rest. Either may be given
// without the other.
type ClientTLS struct {
	CertPEM string `json:"cert_pem,omitempty"`
	KeyPEM  string `json:"key_pem,omitempty"`
	// CAPEM, if set, is the only set of roots the endpoint's server
	// certificate is verified against.
	CAPEM string `json:"ca_pem,omitempty"`
}

// String keeps the key out of formatted output.
func (t ClientTLS) String() string { return "[client certificate]" }

// LogValue keeps the key out of logs.
func (t ClientTLS) LogValue() slog.Value { return slog.StringValue(t.String()) }

// sealedSettings is the JSON sealed in an endpoint's settings column, the
// same in every store, so that export and import carry it as stored.
type sealedSettings struct {
	Headers map[string]string `json:"headers,omitempty"`
	Auth    *ReceiverAuth     `json:"auth,omitempty"`
	TLS     *ClientTLS        `json:"tls,omitempty"`
}

// HasSettings reports whether e has headers, receiver authentication or a
// client certificate: whether its settings column holds anything.
func HasSettings(e *Endpoint) bool {
	return len(e.Headers) > 0 || e.Auth != nil || e.ClientTLS != nil
}

// SealSettings seals e's Headers, Auth and ClientTLS together with c, the
// value of the settings column; nil (NULL) when e has none.
func SealSettings(c Cipher, e *Endpoint) ([]byte, error) {
	if !HasSettings(e) {
		return nil, nil
	}
	b, err := json.Marshal(sealedSettings{Headers: e.Headers, Auth: e.Auth, TLS: e.ClientTLS})
	if err != nil {
		return nil, fmt.Errorf("encode settings: %w", err)
	}
	sealed, err := c.Seal(b)
	if err != nil {
		return nil, fmt.Errorf("seal settings: %w", err)
	}
	return sealed, nil
}

// OpenSettings opens what SealSettings sealed into e; nil sealed means
// none.
func OpenSettings(c Cipher, e *Endpoint, sealed []byte) error {
	e.Headers, e.Auth, e.ClientTLS = nil, nil, nil
	if sealed == nil {
		return nil
	}
	b, err := c.Open(sealed)
	if err != nil {
		return fmt.Errorf("open settings: %w", err)
	}
	var v sealedSettings
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("decode settings: %w", err)
	}
	if len(v.Headers) > 0 {
		e.Headers = v.Headers
	}
	e.Auth, e.ClientTLS = v.Auth, v.TLS
	return nil
}

// EncodeSchedule is the retry_schedule column of a schedule: the JSON of
// its delays in milliseconds, or nil (NULL) for none (the server's).
func EncodeSchedule(s []time.Duration) (any, error) {
	if s == nil {
		return nil, nil
	}
	b, err := json.Marshal(ScheduleMS(s))
	if err != nil {
		return nil, fmt.Errorf("encode retry schedule: %w", err)
	}
	return string(b), nil
}

// DecodeSchedule reads a retry_schedule column; nil is none.
func DecodeSchedule(col *string) ([]time.Duration, error) {
	if col == nil {
		return nil, nil
	}
	var ms []int64
	if err := json.Unmarshal([]byte(*col), &ms); err != nil {
		return nil, fmt.Errorf("decode retry schedule: %w", err)
	}
	return ScheduleOfMS(ms), nil
}

// ScheduleMS returns a schedule's delays in milliseconds; nil for nil.
func ScheduleMS(s []time.Duration) []int64 {
	if s == nil {
		return nil
	}
	out := make([]int64, len(s))
	for i, d := range s {
		out[i] = d.Milliseconds()
	}
	return out
}

// ScheduleOfMS is the inverse of ScheduleMS.
func ScheduleOfMS(ms []int64) []time.Duration {
	if ms == nil {
		return nil
	}
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m) * time.Millisecond
	}
	return out
}

// JobEndpoint returns a copy of e, an endpoint a store keeps for the jobs
// of one claim (or longer), for a job claimed at now: its own slices and
// settings, its secrets expired at now left out.
func JobEndpoint(e *Endpoint, now time.Time) Endpoint {
	c := *e
	c.Secrets = LiveSecrets(e.Secrets, now)
	c.EventTypes = slices.Clone(e.EventTypes)
	c.CustomScheme = slices.Clone(e.CustomScheme)
	c.Filter = slices.Clone(e.Filter)
	CloneSettings(&c)
	return c
}

// CloneSettings gives e its own copies of the settings it shares with
// another Endpoint value (a cached one).
func CloneSettings(e *Endpoint) {
	e.Headers = maps.Clone(e.Headers)
	if e.Auth != nil {
		a := *e.Auth
		a.Scopes = slices.Clone(a.Scopes)
		e.Auth = &a
	}
	if e.ClientTLS != nil {
		t := *e.ClientTLS
		e.ClientTLS = &t
	}
	e.RetrySchedule = slices.Clone(e.RetrySchedule)
}

// SettingsColumns are the settings, timeout_ms and retry_schedule values
// of an imported endpoint record, its sealed settings checked to open with
// c.
func (r *EndpointRecord) SettingsColumns(c Cipher) ([]any, error) {
	var settings any
	if r.SealedSettings != nil {
		if _, err := c.Open(r.SealedSettings); err != nil {
			return nil, fmt.Errorf("endpoint %s: its settings do not open with this store's Cipher (export and import need the same key): %w", r.ID, err)
		}
		settings = r.SealedSettings
	}
	sched, err := EncodeSchedule(ScheduleOfMS(r.RetryScheduleMS))
	if err != nil {
		return nil, err
	}
	return []any{settings, r.TimeoutMS, sched}, nil
}

// SetSettingsColumns fills r's settings fields from the columns as read
// by an export.
func (r *EndpointRecord) SetSettingsColumns(settings []byte, timeoutMS int64, sched *string) error {
	r.SealedSettings, r.TimeoutMS = settings, timeoutMS
	d, err := DecodeSchedule(sched)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", r.ID, err)
	}
	r.RetryScheduleMS = ScheduleMS(d)
	return nil
}

// Empty reports whether t sets nothing (a patch with it clears).
func (t *ClientTLS) Empty() bool { return t.CertPEM == "" && t.KeyPEM == "" && t.CAPEM == "" }
