package inbound

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hookrelay/hookrelay/internal/store"
	"github.com/hookrelay/hookrelay/signature"
)

func mustScheme(t *testing.T, name string) *signature.Scheme {
	t.Helper()
	s, err := signature.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckWindows(t *testing.T) {
	t.Parallel()
	github, stripe := mustScheme(t, "github"), mustScheme(t, "stripe")
	for _, tc := range []struct {
		name         string
		scheme       *signature.Scheme
		tol, dedupe  time.Duration
		want         time.Duration
		setting, msg string // the error expected, if any
	}{
		{"defaults", github, 0, 0, DefaultDedupeWindow, "", ""},
		{"explicit", stripe, time.Minute, time.Hour, time.Hour, "", ""},
		{"window equal to the tolerance", stripe, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute, "", ""},
		{"negative tolerance", github, -time.Second, 0, 0, SettingTolerance, "must be from 0"},
		{"tolerance too long", github, MaxTolerance + time.Second, 0, 0, SettingTolerance, "86400 seconds"},
		{"negative window", github, 0, -time.Second, 0, SettingDedupeWindow, "must be from 0"},
		{"window too long", github, 0, MaxDedupeWindow + time.Second, 0, SettingDedupeWindow, "2592000 seconds"},
		{"window under a minute", github, 0, 30 * time.Second, 0, SettingDedupeWindow, "at least 60 seconds"},
		// Stripe's own tolerance is 5 minutes.
		{"window under the scheme's tolerance", stripe, 0, 2 * time.Minute, 0, SettingDedupeWindow, "at least 300 seconds"},
		{"window under the tolerance", stripe, time.Hour, 30 * time.Minute, 0, SettingDedupeWindow, "at least 3600 seconds"},
	} {
		got, err := CheckWindows(tc.scheme, tc.tol, tc.dedupe)
		if tc.setting == "" {
			if err != nil || got != tc.want {
				t.Errorf("%s: CheckWindows = %v, %v; want %v", tc.name, got, err, tc.want)
			}
			continue
		}
		se, ok := errors.AsType[*SettingError](err)
		if !ok || se.Setting != tc.setting || se.Index != -1 || !strings.Contains(se.Reason, tc.msg) {
			t.Errorf("%s: CheckWindows error %v, want a %s error with %q", tc.name, err, tc.setting, tc.msg)
		}
	}
}

func TestCheckSecrets(t *testing.T) {
	t.Parallel()
	std := mustScheme(t, "standard")
	now := time.Unix(1700000000, 0)
	good := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	got, err := CheckSecrets(std, []string{good, good}, now)
	if err != nil || len(got) != 2 || got[0].Value != good || !got[1].CreatedAt.Equal(now) {
		t.Fatalf("CheckSecrets = %+v, %v", got, err)
	}
	for _, tc := range []struct {
		name   string
		values []string
		index  int
		msg    string
	}{
		{"none", nil, -1, "must not be empty"},
		{"too many", make([]string, MaxSecrets+1), -1, "at most 10"},
		{"invalid for the scheme", []string{good, "not base64!"}, 1, `not valid for scheme "standard"`},
		{"too long", []string{strings.Repeat("a", MaxSecretLen+1)}, 0, "longer than 1024 bytes"},
	} {
		_, err := CheckSecrets(std, tc.values, now)
		se, ok := errors.AsType[*SettingError](err)
		if !ok || se.Setting != SettingSecrets || se.Index != tc.index || !strings.Contains(se.Reason, tc.msg) {
			t.Errorf("%s: CheckSecrets error %v, want index %d with %q", tc.name, err, tc.index, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "not base64!") {
			t.Errorf("%s: the error holds the secret", tc.name)
		}
	}
}

func TestNewDestination(t *testing.T) {
	t.Parallel()
	src := &store.Source{ID: "src_1", Name: "github"}
	now := time.Unix(1700000000, 0)

	ep, secret, err := NewDestination(src, Destination{URL: "http://ci.internal/hook", FIFO: true}, now)
	if err != nil || ep.Scheme != "none" || ep.Tenant != "source:github" || len(ep.Secrets) != 0 || secret != "" || !ep.FIFO {
		t.Fatalf("unsigned destination %+v, %q, %v", ep, secret, err)
	}
	_, _, err = NewDestination(src, Destination{URL: "http://ci.internal/hook", Secret: "s"}, now)
	if se, ok := errors.AsType[*SettingError](err); !ok || se.Setting != SettingSecret || !strings.Contains(se.Reason, `"none"`) {
		t.Errorf("unsigned destination with a secret: %v", err)
	}

	std := mustScheme(t, "standard")
	ep, secret, err = NewDestination(src, Destination{URL: "http://b.internal/hook", Scheme: std, Disabled: true}, now)
	if err != nil || ep.Scheme != "standard" || len(ep.Secrets) != 1 || ep.Secrets[0].Value != secret ||
		signature.ValidateSecret(std, secret) != nil || ep.DisabledReason != "manual" {
		t.Fatalf("re-signing destination %+v, %v", ep, err)
	}
	_, _, err = NewDestination(src, Destination{URL: "http://b.internal/hook", Scheme: std, Secret: "nope!"}, now)
	if se, ok := errors.AsType[*SettingError](err); !ok || se.Setting != SettingSecret {
		t.Errorf("re-signing destination with a bad secret: %v", err)
	}
}

func TestSeconds(t *testing.T) {
	t.Parallel()
	if got := Seconds(90); got != 90*time.Second {
		t.Errorf("Seconds(90) = %v", got)
	}
	// Saturated, not wrapped around into a valid range.
	if got := Seconds(math.MaxInt64); got < MaxDedupeWindow {
		t.Errorf("Seconds(MaxInt64) = %v", got)
	}
	if got := Seconds(math.MinInt64); got >= 0 {
		t.Errorf("Seconds(MinInt64) = %v", got)
	}
}
