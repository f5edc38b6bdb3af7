// Package postgres implements store.Store on PostgreSQL with pgx, for
// running several hookrelay nodes against one database when one machine is
// outgrown. Every node opens a Store on the same database (`hookrelay serve
// --database postgres://…`); they share the queue with no coordination but
// the database's own locks.
//
// The schema is the SQLite store's, table for table and index for index
// (migrations/, the same goose numbering), in PostgreSQL's types, but for
// one index of the deliveries in flight, deliveries_leased, which only the
// limits across nodes need (see below). Open applies pending migrations;
// nodes starting at once take turns on a session advisory lock per
// schema, so exactly one applies each migration.
//
// # Claiming across nodes
//
// A pending delivery is claimable when it is due and its hold flag is
// false. Claiming is one statement: a CTE picks the oldest due rows from the
// partial index deliveries_due with FOR UPDATE SKIP LOCKED, and an UPDATE
// moves their next attempt to the end of the lease and bumps their claim,
// returning each with its endpoint and event. SKIP LOCKED is what lets any
// number of claimers, on any number of nodes, run at once without waiting
// for one another: each row is locked by the one transaction that picks
// it, the others pass it by, and once that transaction commits the row is
// not due until its lease ends. A node that dies mid-attempt therefore
// loses nothing: its deliveries are due again when their leases run out,
// and any node claims them with a new claim number, which makes the dead
// node's late result, if it ever comes, stale (CompleteAttempts checks
// id and claim). Each claim also records its node (Config.NodeID, in
// leased_by): a node that starts again with the same id releases its own
// unexpired leases at once (ReleaseLeases), and does not wait for them.
// Open holds an advisory lock on the node id for the Store's life, so two
// live nodes never share one and one never releases the other's live work.
//
// # FIFO across nodes
//
// SKIP LOCKED alone would break FIFO: a claimer that finds an endpoint's
// oldest delivery locked by another claimer would skip it and take the
// second. The store does not let it: as in the SQLite store, every pending
// delivery of a FIFO endpoint but its oldest has hold = true, and so is not
// in the index the claim scans at all. A FIFO endpoint thus offers exactly
// one claimable row, its head, whether it is due, leased, locked or waiting
// for a retry, and the claim query needs no per-endpoint check, no
// subquery per row and no lock beyond its rows. (Excluding endpoints whose
// head is locked, the alternative, costs a lookup per candidate and still
// scans every waiting row of a long FIFO backlog on every claim.)
//
// The head is the delivery in flight, if one is, and otherwise the oldest
// pending one. RetryDelivery and ReplayFailed, which may make an older
// delivery pending again, lock the endpoint's unheld pending rows (FOR
// UPDATE, so a claim of the head being committed is waited for and seen)
// and keep the head while it is in flight; once its attempt ends,
// CompleteAttempts makes the oldest pending delivery the head again,
// whether the previous one succeeded, failed or waits for a retry.
//
// The price is keeping hold right under concurrency, which is done with
// transaction-level advisory locks, in PostgreSQL's two-int4 key space:
//
//   - an endpoint lock per endpoint, taken exclusively by every transaction
//     that changes the endpoint's pending set or hold flags or writes its
//     row: CreateEvent for its FIFO endpoints (it decides the new
//     delivery's hold from whether one is pending), CompleteAttempts (it
//     promotes the next head when one finishes, and writes FailingSince),
//     RetryDelivery, ReplayFailed, UpdateEndpoint, DeleteEndpoint and
//     DisableFailingEndpoints;
//   - a tenant lock per tenant, for the fan-out: CreateEvent takes it
//     shared before reading the tenant's enabled endpoints, and the writes
//     that change which endpoints receive what (UpdateEndpoint,
//     DeleteEndpoint, DisableFailingEndpoints) take it exclusively, so a
//     delivery is never created for an endpoint that a concurrent
//     transaction is disabling or deleting without seeing it.
//
// Every transaction takes its tenant locks before its endpoint locks, each
// kind in key order, and both before any delivery or endpoint row lock it
// may wait for; CreateEvent waits for a concurrent use of its idempotency
// key or event id before it takes any advisory lock, and nothing waits for
// those while holding one. So transactions never wait for one another in a
// cycle: no deadlocks. Claiming never waits: a plain claim takes no
// advisory lock, and a claim with limits (below) only tries its claim
// locks, in a namespace of their own that nothing waits for.
//
// FIFO order is acceptance order, that is commit order. Under its
// endpoint lock, CreateEvent reads the newest pending delivery of a FIFO
// endpoint and makes the new delivery's id greater (ids are generated
// in-process, time-ordered like store.NewID, and moved past every id
// observed), so that ordering the queue by id is ordering by commit even
// when the nodes' clocks disagree.
//
// # Limits across nodes
//
// A claim with store.ClaimParams.MaxInFlight or RateLimits keeps an
// endpoint's cap on deliveries in flight, and its rate limit, across every
// node. The state is in the database: the unexpired leases of the
// endpoint, counted in the partial index deliveries_leased (which costs a
// claim and a completion one more index write each), and its token
// bucket, a row of endpoint_buckets. Leases are compared with the
// claimer's clock, so the nodes' clocks must agree to well within the
// lease's margin over the request timeout (30 s by default), as lease
// takeover already requires. The danger is two claims, on two
// nodes, each counting the other's uncommitted claims as free (READ
// COMMITTED shows neither what the other has not committed). So such a
// claim is a transaction of two statements (limits.go):
//
//  1. It reads the oldest due deliveries as a plain claim does, keeps of
//     each endpoint's no more than its cap and tokens allow as its
//     snapshot sees them, and locks those (FOR UPDATE SKIP LOCKED; the
//     rest of a busy endpoint's backlog stays unlocked). It then tries,
//     without waiting, a transaction-level advisory lock per endpoint of
//     them, the claim lock, and drops the candidates of an endpoint whose
//     lock another claim holds: that claim is deciding for the endpoint,
//     and the next will see its decision.
//  2. In a new statement, and so with a snapshot taken after its locks
//     were granted, it counts the endpoints' unexpired leases, refills
//     their buckets, keeps of each endpoint's candidates, oldest due first,
//     what the cap and the whole tokens allow, spends the tokens and
//     claims.
//
// Every claim that adds an endpoint's leases or spends its tokens holds its
// claim lock from before it reads them until it commits, and PostgreSQL
// releases locks only once the commit is visible: the claims of one
// endpoint are serialized, each seeing all the earlier ones. Completions
// and retries only remove leases, which at worst makes a claim take fewer.
// A lease that ran out, a node having died, no longer counts. The price is
// a second round trip per claim; claims without limits stay one statement.
//
// # History
//
// EndpointHealth reads each endpoint's latest attempts from the index
// attempts_endpoint (one query, a LATERAL join per endpoint);
// DeliveryHistogram counts with GROUP BY over the index deliveries_created.
// Prune walks each table in key order with reads that lock nothing and
// deletes each batch in its own short transaction; any node may run it.
// Export reads one REPEATABLE READ snapshot; Import takes a SHARE ROW
// EXCLUSIVE lock on the tables for its first batch, so that two imports
// cannot both find the database empty. Records are the same as the SQLite
// store's: `hookrelay export` from one and `hookrelay import` into the
// other moves a database, provided both use the same Cipher key.
//
// # Limits
//
// Endpoint secrets are sealed with Config.Cipher, which every node must
// share; payloads and attempts are stored in clear. Event payloads and
// custom schemes are BYTEA, kept byte for byte; the other strings are TEXT,
// which PostgreSQL refuses to hold a NUL in (attempt errors, which come
// from the network, are cleaned of NULs and invalid UTF-8 before they are
// stored). Advisory lock keys are hashes, so two endpoints or tenants may
// share a lock, which costs only concurrency. TryAdvisoryLock, for electing
// the node that runs a periodic job, uses the bigint advisory key space,
// which the store leaves to its callers.
package postgres
