package filter

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzParse: Parse never panics, and refuses with an *Error.
func FuzzParse(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.filter))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		_, err := Parse(text)
		var fe *Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("Parse(%q) error %v is not an *Error", text, err)
		}
	})
}

// FuzzMatch: Match never panics, errs exactly for payloads that are not
// JSON, agrees with MatchValue, and {"$not": f} matches exactly when f
// does not.
func FuzzMatch(f *testing.F) {
	for _, tc := range matchCases {
		f.Add([]byte(tc.filter), []byte(tc.payload))
	}
	f.Fuzz(func(t *testing.T, text, payload []byte) {
		flt, err := Parse(text)
		if err != nil {
			return
		}
		got, err := flt.Match(payload)
		if (err != nil) != !json.Valid(payload) {
			t.Fatalf("Match(%q) error = %v, json.Valid = %v", payload, err, json.Valid(payload))
		}
		if err != nil {
			return
		}
		v, _ := Decode(payload)
		if flt.MatchValue(v) != got {
			t.Fatalf("MatchValue and Match disagree on %q", payload)
		}
		neg, err := Parse([]byte(`{"$not":` + string(text) + `}`))
		if err != nil {
			return // one level deeper than the bound, or larger
		}
		if neg.MatchValue(v) == got {
			t.Fatalf("filter %s and its $not agree (%v) on %s", text, got, payload)
		}
	})
}
