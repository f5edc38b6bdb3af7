package api

import "github.com/hookrelay/hookrelay/internal/rules"

// The rules of endpoints, sources and events are internal/rules'; these
// are the limits the API applies to its own fields.
const (
	maxNameLen      = rules.MaxNameLen
	maxEventTypeLen = rules.MaxEventTypeLen
	maxIdemKeyLen   = rules.MaxIdempotencyLen
)

// checkText refuses a value that is too long, not UTF-8, or holds control
// characters, as a 422.
func checkText(field, s string, max int) error {
	if err := rules.CheckText(field, s, max); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// checkTenant refuses a malformed tenant name, as a 422.
func checkTenant(t string) error {
	if err := rules.CheckTenant(t); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// checkOwnTenant refuses, as a 422, a malformed tenant or one reserved for
// inbound sources' destinations.
func checkOwnTenant(t string) error {
	if err := rules.CheckOwnTenant(t); err != nil {
		return invalid("%v", err)
	}
	return nil
}
