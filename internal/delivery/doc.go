// Package delivery is the engine of `hookrelay serve`: it takes due
// deliveries from the store's queue, signs each event for its endpoint,
// POSTs it, and records the attempt and what happens next (success, a
// retry at a later time, or failure). It also holds the pieces the rest of
// hookrelay reuses: the retry Policy, the SSRF guard (CheckURL and the
// dialer of NewHTTPClient) and Send, which `hookrelay send` uses too.
//
// # Guarantees
//
// Delivery is at least once. The engine keeps no state that matters across
// a crash: everything is in the store. An event is accepted only once the
// store has committed it with its deliveries (store.Store.CreateEvent), so
// accepting is independent of the engine. A delivery is claimed with a
// lease (Config.Lease, the longer of RequestTimeout and MaxEndpointTimeout,
// plus 30s, by default) by moving its
// next_attempt_at past the lease and bumping its claim counter; if the
// process dies at any moment, the lease runs out and the delivery is due
// again, on this node after a restart or on another. An attempt's result is
// recorded (store.Store.CompleteAttempts) in the same transaction as the
// delivery's new status, and only if the delivery's claim counter still
// matches: a worker that lost its lease can never overwrite a newer claim.
// So kill -9 loses no accepted event and no recorded attempt; at worst a
// request that was made but not recorded is made again.
//
// The body sent is exactly signature.Signed.Body: the payload text as
// accepted (never decoded and re-encoded) for schemes that sign the raw
// body, or the vendor's re-serialization for those that sign one (plextrac:
// JSON.stringify, teak: json.dumps), so that receivers that verify the raw
// bytes and receivers that re-serialize as the vendor does both succeed.
// Each attempt is signed afresh, with the event ID as message ID and the
// attempt's time as timestamp. An event's ContentType (application/json
// when empty) and Headers go with it, under the signature headers, which
// win; endpoints with scheme "none" (schemes.None: the destinations of
// inbound sources whose services trust the network) get the payload
// unsigned. Inbound events are the only ones with either.
//
// An endpoint's own settings shape the rest of the request (auth.go,
// transport.go): its static headers, under the signature and content
// headers; its receiver authentication (basic, bearer, or an OAuth2
// client-credentials token from internal/oauthtoken, fetched again once
// on a 401); its client certificate and CA bundle, with a client of its own
// per certificate; its request timeout (up to Config.MaxEndpointTimeout)
// and retry schedule. Attempts record those headers and Authorization as
// Redacted. With Config.EgressProxy every connection is a CONNECT tunnel
// to the address the SSRF guard checked.
//
// # Pipeline
//
// One claim loop, a goroutine per request (bounded), and one completer:
//
//	claim loop ──jobs──▶ request goroutines ──results──▶ completer ──▶ CompleteAttempts
//	     ▲                       │
//	     └──── Notify / freed capacity / PollInterval / rate-limit timer
//
// The claim loop calls ClaimDueDeliveries for up to
// min(BatchSize, Workers − in flight) deliveries, leaving out endpoints that
// already hold enough claimed deliveries to stay busy (see below) or have
// no rate-limit token. A full batch means more may be due, so it claims
// again at once; otherwise it sleeps until Notify, until an endpoint or the
// node gets room again, until the next rate-limit token, or PollInterval.
//
// Fresh deliveries usually skip the claim loop. While Run runs, a store
// whose SetDispatcher reports true (SQLite's does) asks the engine, for each
// delivery it is about to create, whether it would start it (Admits: the
// test a claim applies, endpoints without FIFO or a rate limit only), stores
// those already claimed, and hands them over (Dispatch) as soon as the
// event's transaction commits. The first attempt of an accepted event thus
// costs no claim transaction and waits for no poll: it usually starts before
// the 202 reaches the client. Should the process die first, the delivery is
// due again when its lease ends, like any claimed delivery. Deliveries the
// engine declines (their endpoint is full, or the node is) stay for the
// claim loop, which Notify wakes.
//
// A claimed delivery starts at once if its endpoint has room (fewer than
// EndpointConcurrency requests in flight, a token) and the node has a free
// worker; otherwise it is held in memory, in claim order, and started as
// soon as a request to that endpoint finishes or a token arrives. Alone on
// its store, the engine does not ask the store to limit a claim per
// endpoint, so one batch can bring more deliveries for an endpoint than it
// can take at once; holding them is what lets a hot endpoint use its whole
// concurrency without a claim per request, and claiming again while it
// still holds half of what it may hold keeps it busy while the next claim
// runs. On a shared store the claims keep to the limits (see Several
// nodes), and an endpoint holds only what its rate limit or the node's
// workers keep waiting.
//
// How much an endpoint may hold is what it can plausibly start while the
// leases last, judged from its recent latency (or how long it has gone
// without finishing a request) and its rate limit. A held delivery must
// start while its lease still leaves room for a whole request: past that
// deadline, or beyond what a slow endpoint may hold, it is dropped
// unattempted and left to its lease, to be claimed again later. So a dead
// endpoint ends up holding about EndpointConcurrency deliveries and costs
// at most one extra claim per lease period.
//
// Each request: resolve the endpoint's scheme (built-ins by name; custom
// schemes parsed once per endpoint id and UpdatedAt), sign, POST with the
// client of NewHTTPClient (RequestTimeout; at most MaxResponseRead bytes of
// the response read, MaxResponseBytes kept), classify with the Policy, and
// send the result to the completer. The request's slot is released as soon
// as the result is handed over; the delivery stays leased until the result
// is recorded, so it cannot be claimed twice meanwhile.
//
// The completer gathers results for at most a couple of milliseconds or
// 100 results (more if more are already waiting, up to 512) and records
// them with one CompleteAttempts (the SQLite store
// commits them in one transaction, with one fsync). A failing store is
// retried a few times; if it keeps failing, the results are dropped and
// their deliveries come back when their leases run out. Metrics and
// operational webhooks follow the recording, never precede it.
//
// # Isolation
//
// A slow or dead endpoint costs at most EndpointConcurrency requests in
// flight (each bounded by RequestTimeout) and a few held deliveries; it is
// left out of claims while it holds them, so deliveries to healthy
// endpoints are claimed and sent past it. Response bodies are capped, redirects are
// not followed, proxies from the environment are ignored.
//
// FIFO endpoints need nothing from the engine: the store makes only their
// oldest pending delivery claimable, and keeps the rest waiting while it is
// leased or waiting for a retry.
//
// # Retries and failure
//
// Network errors, timeouts, 408, 409, 429 and 5xx are retried on
// Config.RetrySchedule (±20% jitter; Retry-After lengthens a delay, up to
// 24h, and never shortens it); 2xx is success; any other status, including
// 3xx, fails the delivery at once. A 410 is recorded with a note that
// Standard Webhooks suggests disabling the endpoint; disabling is left to
// the operator or to auto-disable. After the last scheduled retry the
// delivery fails; a failed delivery can be replayed through the store.
// Signing errors (bad secret, payload that is not JSON for a re-serializing
// scheme) and refused addresses fail at once: retrying would not help.
//
// Every minute (or DisableAfter/4 if shorter) the engine disables endpoints
// whose attempts have failed without a success for DisableAfter; the store
// records the reason on the endpoint.
//
// # Several nodes
//
// Any number of engines, one per node, may share one store (PostgreSQL):
// the store's claims hand each delivery to one of them at a time, and a
// node's death costs only its leases. Per-endpoint FIFO holds across nodes
// (it is the store's). On a store whose Shared reports true, so do
// EndpointConcurrency and rate limits: each claim passes EndpointConcurrency as
// store.ClaimParams.MaxInFlight and asks for RateLimits, and the store
// counts what every node has in flight and spends tokens from one bucket
// per endpoint. So the nodes together send an endpoint at most
// EndpointConcurrency requests at once, and, over any t seconds, about its
// rate times t plus a burst of a tenth of a second's worth (at least
// one); each node also keeps its own limits, which saves claims the store
// would refuse anyway.
//
// The cost: a delivery counts as in flight from its claim until its
// attempt is recorded, so a node cannot claim a busy endpoint's deliveries
// ahead of its free slots; each slot waits, between two requests, for the
// completer to record the result and for the next claim. The completer
// wakes the claim loop after each batch it records, for the slots it
// frees. A node that stops with claimed deliveries it never sent (rate
// limited or out of workers) leaves them counted until their leases run
// out. On SQLite, one node alone, Shared reports false: its own limits
// are exact, and it claims ahead.
//
// The periodic jobs, auto-disable and retention, run only on the node that
// Config.Leader says leads (internal/leader elects it with an advisory
// lock), asked again before each run; both jobs are idempotent, so the
// moment of overlap a change of leader may bring is harmless.
//
// # Retention
//
// Every 5 minutes (or Retention/4 if shorter) the leader prunes the
// history older than Retention (30 days by default): attempts, finished
// deliveries, idempotency keys and the events left without deliveries
// (store.Store.Prune). The store deletes in batches of PruneBatch rows,
// one short transaction each, so claims and completions are never held up
// for longer than one batch. Pending deliveries and their events are kept
// whatever their age.
//
// A tenant may keep payloads for less (TenantPayloadRetention, serve's
// --tenant-payload-retention): the same job first erases the payloads of
// that tenant's events older than its retention (store.Erasure), in
// batches of PruneBatch events, exactly as DELETE
// /api/v1/events/{id}/payload erases one: payload, headers, the attempts'
// request headers and response bodies, and its pending deliveries are
// canceled. The metadata stays until Retention prunes it.
//
// # Shutdown
//
// When Run's context is done, it stops claiming and waits up to
// ShutdownGrace for requests in flight. Requests still running then are
// aborted and recorded as aborted attempts, due again at once. Run returns
// only after every result has been handed to the store. Held deliveries
// that never started are simply forgotten: their leases bring them back.
//
// # Operational webhooks
//
// endpoint.disabled, delivery.exhausted (a delivery failed for good) and
// delivery.recovered (the first success of an endpoint that was failing)
// are durable: the store writes each, as an event of store.OperatorTenant
// and its delivery to the operator endpoint, in the transaction of the
// change it reports (see store.OperatorTenant), and the engine sends them
// as it sends every delivery, signed, retried on the retry schedule, with
// their attempts on record and in the dashboard. A crash between the
// change and the webhook loses nothing. SyncOperator keeps the operator
// endpoint in step with serve's --operator-url; its URL is configuration,
// which the private-network guard does not apply to.
//
// # SSRF
//
// Endpoint URLs must be http or https without user information. Unless
// private networks are allowed, CheckURL (called when an endpoint is
// created) refuses hosts that are or resolve to loopback, private, link-
// local (cloud metadata), CGNAT, unspecified, multicast and reserved
// addresses, in IPv4, IPv6 and the IPv6 forms that embed IPv4; and the
// delivery client's dialer checks the address each connection actually
// goes to, which defeats DNS rebinding. Such an attempt fails at once.
//
// # Metrics
//
// With Config.Registerer: hookrelay_deliveries_total{outcome,scheme}
// (outcome success, retry or failed; counted once recorded),
// hookrelay_attempt_duration_seconds, hookrelay_inflight,
// hookrelay_pruned_total{table}, and, read from
// store.QueueStats at scrape time, hookrelay_queue_pending,
// hookrelay_queue_due, hookrelay_queue_oldest_due_age_seconds and
// hookrelay_endpoints_disabled.
//
// # Tracing
//
// With Config.Tracer (internal/tracing's OpenTelemetry one in serve), each
// attempt is a span, linked to the span that accepted its event
// (store.Event.TraceParent); an endpoint with TraceContext set receives
// the attempt span's traceparent header. The Tracer sees ids, the attempt
// number, the status and the duration, never secrets, payloads or URLs.
//
// Secrets are never logged: they go from the job's endpoint to the signer
// and nowhere else. Logs use the keys endpoint_id, delivery_id, attempt and
// status.
package delivery
