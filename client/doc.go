// Package client is a Go client for hookrelay's REST API (/api/v1), as
// docs/openapi.yaml describes it: endpoints, events, deliveries, API keys,
// inbound sources, tenant portal links and the OpenAPI document itself.
// It uses only the standard library.
//
// # Calls
//
// Configure a Client with its fields, or with New, and call its methods;
// every method takes a context first:
//
//	c := client.New("http://127.0.0.1:8080", os.Getenv("HOOKRELAY_KEY"))
//	ep, err := c.CreateEndpoint(ctx, &client.CreateEndpointParams{URL: "https://example.com/hook"})
//
// Updates are partial: the fields of UpdateEndpointParams and
// UpdateSourceParams are pointers, and only the ones set are sent, so that
// an update changes only what it names (Go 1.26's new(expr) makes them
// short to write: Description: new("billing")).
//
// Every value a call returns carries, in its Raw field, the JSON the server
// sent for it, byte for byte: an event's payload is stored as it was
// received, and a program that passes responses on (the hookrelay CLI's
// --json) need not re-encode them.
//
// # Errors
//
// An answer other than 2xx is an *Error holding its status, the API's error
// code and its message. errors.Is tells the kinds apart: ErrNotFound (404),
// ErrConflict (409), ErrValidation (422), ErrBadRequest (400),
// ErrUnauthorized (401), ErrForbidden (403), ErrTooLarge (413) and
// ErrRateLimited (429). An ErrValidation about request fields names them
// in Error.Field (the first) and Error.Fields (each with its reason).
// Network failures are returned wrapped, as they come from the
// http.Client.
//
// # Retries and idempotency
//
// Calls that can be repeated without a second effect are retried after a
// network error, a 429 or a 5xx answer, with capped exponential backoff and
// jitter, and after the wait a Retry-After header asks for: GET and DELETE,
// and event posts, which always carry an idempotency key (SendEvent makes
// one up when the caller gives none), so that a retried post never creates
// a second event. Other posts and PATCH are sent once. MaxRetries,
// MinBackoff and MaxBackoff tune this; Sleep replaces the real wait, for
// tests.
//
// # Pagination
//
// List methods return one Page and its NextCursor; their All counterparts
// return an iter.Seq2 that follows the cursors through every page:
//
//	for ep, err := range c.AllEndpoints(ctx, nil) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ep.ID, ep.URL)
//	}
package client
