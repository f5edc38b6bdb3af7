-- hookrelay schema, version 4: per-endpoint limits kept by the store (see
-- store.ClaimParams MaxInFlight and RateLimits). The PostgreSQL store keeps
-- the same numbering.
--
-- Unlike PostgreSQL, SQLite gets no index of the deliveries in flight
-- (deliveries_leased there): it would cost every claim and every completion
-- a write, and the one node SQLite serves keeps its limits itself and never
-- asks the store to. A claim with a cap counts the leases from the due
-- index instead (see limits.go).

-- +goose Up
-- The token bucket of each rate-limited endpoint, as of updated_at: claims
-- with rate limits refill it (rate_limit tokens a second, up to
-- store.RateBurst) and take a token per delivery. No row is a full bucket.
-- Not exported: it is the state of the queue, not configuration.
CREATE TABLE endpoint_buckets (
    endpoint_id TEXT PRIMARY KEY,
    tokens      REAL NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE endpoint_buckets;
