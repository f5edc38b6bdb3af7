package api

import (
	"encoding/json"
	"time"

	"github.com/hookrelay/hookrelay/internal/rules"
	"github.com/hookrelay/hookrelay/internal/store"
)

// settingsJSON is an endpoint's delivery settings in responses, every
// secret in them masked (rules.MaskSecret): header values, password,
// token, client secret; a client key shows only that it is set.
type settingsJSON struct {
	Headers   map[string]string   `json:"headers,omitempty"`
	Auth      *store.ReceiverAuth `json:"auth,omitempty"`
	ClientTLS *store.ClientTLS    `json:"client_tls,omitempty"`
	// TimeoutSeconds is 0 for the server's request timeout.
	TimeoutSeconds float64 `json:"timeout_seconds"`
	// RetryScheduleSeconds is null for the server's schedule.
	RetryScheduleSeconds []float64 `json:"retry_schedule_seconds"`
}

func toSettingsJSON(e *store.Endpoint) settingsJSON {
	out := settingsJSON{
		Headers:        rules.MaskedHeaders(e.Headers),
		Auth:           rules.MaskedAuth(e.Auth),
		TimeoutSeconds: e.Timeout.Seconds(),
	}
	if t := e.ClientTLS; t != nil {
		m := *t
		m.KeyPEM = rules.MaskSecret(t.KeyPEM)
		out.ClientTLS = &m
	}
	if e.RetrySchedule != nil {
		out.RetryScheduleSeconds = make([]float64, len(e.RetrySchedule))
		for i, d := range e.RetrySchedule {
			out.RetryScheduleSeconds[i] = d.Seconds()
		}
	}
	return out
}

// seconds converts a number of seconds from a request to a duration,
// saturated (rules.Seconds) so that an absurd one stays out of range, to
// the millisecond.
func seconds(s float64) time.Duration {
	if s >= 1<<53 || s <= -(1<<53) {
		return rules.Seconds(int64(s))
	}
	ms := int64(s * 1000)
	return rules.Seconds(ms/1000) + time.Duration(ms%1000)*time.Millisecond
}

// schedule converts retry_schedule_seconds from a request: absent keeps
// (nil), null means the server's (a pointer to nil), an array sets it.
func schedule(raw json.RawMessage) (*[]time.Duration, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var secs []float64
	if err := json.Unmarshal(raw, &secs); err != nil {
		return nil, invalid("retry_schedule_seconds must be null or an array of numbers of seconds")
	}
	if secs == nil {
		return new([]time.Duration(nil)), nil
	}
	out := make([]time.Duration, len(secs))
	for i, s := range secs {
		out[i] = seconds(s)
	}
	return &out, nil
}
