// Package rules owns what an endpoint and an inbound source may be and how
// they change: the limits of every field, which scheme and secret go
// together, what a rotation keeps, which tenant a destination belongs to.
// The REST API (internal/api) and the dashboard (internal/ui) only
// translate a request or a form into a Spec or a Change, call a method of
// Rules, and translate its errors back, so that the two can never disagree
// on a rule.
//
// # Errors
//
// A setting that cannot be used is a *FieldError, naming the field as the
// REST API's JSON does ("url", "event_types", "destinations[2].url"); when
// several fields are wrong, the error is a FieldErrors holding each, in
// the order of the fields. ErrUnsigned says that a change does not apply to
// an endpoint that forwards unsigned, ErrChanged that what a form was
// based on has changed since. Errors of the store (store.ErrNotFound,
// store.ErrConflict) come through wrapped.
//
// # Writes
//
// Every change is one store transaction that writes only what it changes
// (store.EndpointPatch, store.SourcePatch): a rule that depends on the
// stored state (is the current secret valid for the new scheme?) is checked
// inside that transaction, against the row as it is then. So a change of an
// endpoint's description cannot re-enable an endpoint the delivery engine
// disabled meanwhile, and concurrent rotations each keep the secrets the
// others added. Checks that do I/O (the DNS lookups of the SSRF guard) run
// before the transaction.
//
// # Delivery settings
//
// An endpoint's static headers, receiver authentication, client
// certificate, request timeout and retry schedule (settings.go) are
// checked here too: headers against the scheme the endpoint will have (a
// change of scheme alone is checked against the stored headers, inside the
// transaction), the OAuth2 token URL through the SSRF guard, PEMs parsed
// and paired, the timeout and schedule against the server's bounds
// (Config.MaxEndpointTimeout, MaxRetrySchedule). MaskSecret and its
// helpers are how every surface shows the secrets among them; a masked
// value sent back is refused.
package rules
