// Package inbound is hookrelay's front door for incoming webhooks: the
// gateway behind /in/{source}. It verifies each request's signature with
// its source's scheme and secrets, commits the requests it accepts durably
// before answering, and leaves forwarding them to the delivery engine, so
// that internal services receive webhooks from GitHub, Stripe, Slack and
// the rest without verification code of their own.
//
// # A request's way through
//
//  1. The source is looked up by the last path segment (a store.Source,
//     cached for Config.SourceCacheTTL). Unknown: 404.
//  2. The body is read once, at most Config.MaxBodyBytes of it; a larger one
//     gets 413 and nothing is stored.
//  3. The signature is checked with signature.Scheme.Verify over the raw
//     bytes, with the source's secrets (newest first, several during a
//     rotation) and replay tolerance. A failure gets 401 and a short fixed
//     reason (signature.Reason), is counted, and is kept for a while as a
//     store.Rejection (headers that carry credentials redacted, the first
//     4 KiB of the body, headers and body together at most
//     store.MaxRejectionBytes), at most Config.RejectionRate per second per
//     source and store.RejectionBudget bytes per source (the oldest are
//     dropped past it), so that a flood of junk cannot flood the store.
//     Gateway.Run prunes those older than Config.RejectionRetention.
//  4. Handshakes: with SlackChallenge, a verified Slack url_verification is
//     answered with its challenge; with a ZoomSecret, a verified Zoom
//     endpoint.url_validation with its plainToken and
//     encryptedToken = hex(HMAC-SHA256(secret, plainToken)). Neither creates
//     an event. They are answered only after the signature has verified:
//     Zoom's answer is an HMAC of text the request chooses, which must not
//     be available to anyone who cannot sign.
//  5. The request becomes a store.Event of tenant "source:<name>" and type
//     "inbound.<name>": the payload is the body byte for byte, ContentType
//     the request's, Headers its forwardable headers (below) plus
//     X-Hookrelay-Source and X-Hookrelay-Verified (the scheme), and the
//     idempotency key the scheme's message ID (signature.Scheme.MessageID:
//     webhook-id, X-GitHub-Delivery, a Stripe event's id, ...) or, when it
//     has none, "sha256:" and the hex SHA-256 of the body. CreateEvent
//     commits it, with one delivery per destination, before the answer: 202
//     and {"id": event id}. A message whose key the source accepted within
//     its DedupeWindow gets 200 and {"id": the first event, "duplicate":
//     true}, and nothing is created. A store failure gets 503, and the
//     sender retries.
//  6. The gateway then tells its Notifier (the delivery engine), which
//     forwards the event to the source's destinations like any other
//     delivery: retries, FIFO, rate limits, the attempts log, replay.
//
// # Headers
//
// Deliveries carry the original Content-Type and the original headers but
// these: hop-by-hop headers (Connection and those it names, Keep-Alive,
// TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*), Host, Content-Length,
// Expect, Accept-Encoding, X-Hookrelay-* (only the gateway sets those), and
// headers that may carry credentials: any whose name contains auth, key,
// token, secret, password, passwd, pwd, credential, cookie, session,
// signature, hmac or jwt (Authorization, X-Auth-Key, Authentication,
// X-Access-Key, Ocp-Apim-Subscription-Key, X-Gitlab-Token, Cookie, another
// vendor's Stripe-Signature), but Idempotency-Key and the source scheme's
// own signature, timestamp and ID headers (X-Hub-Signature-256 at a GitHub
// source), which let a destination verify the request again with the
// sender's secret. Events are stored with these same headers, and stored
// rejections show the others as "[redacted]". A destination with a hookrelay scheme gets the event
// re-signed by hookrelay, whose signature headers replace any of the same
// name; a destination with scheme "none" gets it unsigned.
//
// Only what the scheme signs is authenticated: the body, and for Standard
// Webhooks, Stripe and Slack the timestamp (and Standard Webhooks' ID).
// Other headers, X-GitHub-Event for one, are forwarded as received.
//
// # Replays and duplicates
//
// Timestamped schemes refuse requests outside their tolerance. Within it,
// a verbatim copy of an accepted request has the same message ID (or body),
// so the store's idempotency check, which outlives restarts and is shared
// by every node, drops it as a duplicate. The gateway does not use a
// signature.SeenStore: that records a message when its signature verifies,
// before it is committed, and would refuse the sender's retry of a request
// whose commit failed. A bounded in-memory cache of recently accepted keys
// answers duplicates without a store write; the store remains the
// authority. The dedupe window must be at least twice the tolerance
// (internal/rules.CheckWindows says why).
//
// The rules of a source's settings are not this package's: they are
// internal/rules', which the REST API and the dashboard apply. The gateway
// only reads sources as stored.
//
// # Metrics
//
// hookrelay_inbound_requests_total{source,outcome}: outcome accepted,
// duplicate, rejected (signature, size), challenge, error (the store
// failed) or unknown_source (with source "").
package inbound
