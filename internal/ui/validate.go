package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hookrelay/hookrelay/internal/rules"
)

// The rules of endpoints and sources are internal/rules'; the dashboard
// only says its errors in the form's words.

// fieldLabels name the fields of internal/rules' errors as the forms'
// labels do.
var fieldLabels = map[string]string{
	"url":                   "URL",
	"description":           "Description",
	"tenant":                "Tenant",
	"scheme":                "Scheme",
	"custom_scheme":         "Custom scheme",
	"secret":                "Secret",
	"secrets":               "Secrets",
	"event_types":           "Event types",
	"filter":                "Payload filter",
	"payload":               "Test payload",
	"rate_limit":            "Rate limit",
	"name":                  "Name",
	"zoom_secret":           "Zoom secret token",
	"tolerance_seconds":     "Replay tolerance",
	"dedupe_window_seconds": "Dedupe window",
	"destinations":          "Destinations",
	"overlap_seconds":       "Overlap",
}

// label names a field of a rules.FieldError for people: "secrets[1]" is
// "Secret 2 (newest first)", "destinations[0].url" is "New destination 1:
// URL".
func label(field string) string {
	if rest, ok := strings.CutPrefix(field, "destinations["); ok {
		if i, sub, ok := strings.Cut(rest, "]."); ok {
			if n, err := strconv.Atoi(i); err == nil {
				return fmt.Sprintf("New destination %d: %s", n+1, label(sub))
			}
		}
	}
	if rest, ok := strings.CutPrefix(field, "secrets["); ok {
		if n, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
			return fmt.Sprintf("Secret %d (newest first)", n+1)
		}
	}
	if l, ok := fieldLabels[field]; ok {
		return l
	}
	return field
}

// messages says the field errors in err for people, one a field; nil if
// err holds none (nil, or an error of another kind).
func messages(err error) []string {
	fs := rules.Fields(err)
	if fs == nil {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = label(f.Field) + " " + f.Reason
	}
	return out
}
