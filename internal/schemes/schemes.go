// Package schemes turns the signature scheme an endpoint or a source has
// stored (a name, and for a custom scheme its JSON) into a
// *signature.Scheme. It is the one place that does: the rules that accept
// a scheme from a person (internal/rules), the delivery engine that signs
// with it and the inbound gateway that verifies with it all call Parse or
// Resolve, so they cannot disagree on what a stored scheme means.
//
// Two names are not signature schemes: Custom, whose scheme is described by
// the JSON of a signature.CustomConfig stored beside it, and None, the
// scheme of a source's destination that forwards what the source accepted
// unsigned.
package schemes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/hookrelay/hookrelay/signature"
)

const (
	// Default is the scheme of an endpoint that names none.
	Default = "standard"
	// Custom is the stored name of a custom scheme.
	Custom = "custom"
	// None is the stored name of an unsigned destination: it has no
	// secret and its deliveries carry no signature.
	None = "none"
)

// ErrUnknown is returned (wrapped) for a scheme name that is neither a
// built-in scheme nor Custom.
var ErrUnknown = errors.New("unknown scheme")

// Resolve returns the scheme stored as name and custom; nil, with no
// error, for None.
func Resolve(name string, custom []byte) (*signature.Scheme, error) {
	switch name {
	case None:
		return nil, nil
	case Custom:
		s, _, err := parseCustom(custom)
		return s, err
	}
	s, err := signature.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("%w %q (%w)", ErrUnknown, name, err)
	}
	return s, nil
}

// Parse checks a scheme a person gave, by name (a built-in, or Custom; ""
// means Default, or Custom when custom is given) and for Custom the JSON of
// its signature.CustomConfig, and returns the scheme with the name and
// custom JSON to store (compacted; nil for a built-in). A member of custom
// that signature.CustomConfig does not have is refused rather than
// dropped, so that a misspelt field is not silently ignored. Parse does not
// take None: whether a scheme may be unsigned is the caller's rule.
func Parse(name string, custom []byte) (*signature.Scheme, string, []byte, error) {
	hasCustom := len(bytes.TrimSpace(custom)) > 0 && string(bytes.TrimSpace(custom)) != "null"
	if name == "" {
		name = Default
		if hasCustom {
			name = Custom
		}
	}
	if name != Custom {
		if hasCustom {
			return nil, "", nil, fmt.Errorf("a custom scheme description is only taken with scheme %q", Custom)
		}
		s, err := signature.Lookup(name)
		if err != nil {
			return nil, "", nil, fmt.Errorf("%w %q: want one of %s, or %q with a description", ErrUnknown, name, strings.Join(signature.Names(), ", "), Custom)
		}
		return s, s.Name(), nil, nil
	}
	if !hasCustom {
		return nil, "", nil, fmt.Errorf("scheme %q needs its description (the JSON of a custom scheme)", Custom)
	}
	s, compact, err := parseCustom(custom)
	if err != nil {
		return nil, "", nil, err
	}
	return s, Custom, compact, nil
}

// parseCustom reads the JSON of a signature.CustomConfig strictly and
// returns the scheme and the compacted JSON.
func parseCustom(custom []byte) (*signature.Scheme, []byte, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(custom, &members); err != nil {
		return nil, nil, fmt.Errorf("custom scheme must be a JSON object: %w", err)
	}
	for k := range members {
		if !customFields[k] {
			return nil, nil, fmt.Errorf("custom scheme: unknown field %q", k)
		}
	}
	var cfg signature.CustomConfig
	if err := json.Unmarshal(custom, &cfg); err != nil {
		return nil, nil, fmt.Errorf("custom scheme: %w", err)
	}
	s, err := signature.Custom(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("custom scheme: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, custom); err != nil {
		return nil, nil, fmt.Errorf("custom scheme: %w", err)
	}
	return s, buf.Bytes(), nil
}

// customFields are the JSON names of signature.CustomConfig's fields.
var customFields = func() map[string]bool {
	m := make(map[string]bool)
	t := reflect.TypeFor[signature.CustomConfig]()
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

// Names lists the names a person may choose for an endpoint: every
// built-in scheme, then Custom.
func Names() []string { return append(signature.Names(), Custom) }
