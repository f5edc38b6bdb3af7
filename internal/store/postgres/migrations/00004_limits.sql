-- hookrelay schema, version 4: the per-endpoint limits that hold across
-- nodes. The SQLite store's 00004_limits.sql has the same table, but not
-- the index, which only several nodes need. Building the index reads the
-- whole deliveries table and blocks writes to it meanwhile (it holds only
-- the deliveries in flight, so it is small): on a long history, run
-- `hookrelay migrate` at a quiet moment.

-- +goose Up
-- The deliveries in flight of each endpoint: claimed, their lease not yet
-- over or not yet cleared (completing an attempt clears it). A claim with
-- a cap counts an endpoint's unexpired leases here, under the endpoint's
-- claim lock (see the package doc).
CREATE INDEX deliveries_leased ON deliveries (endpoint_id, leased_until)
    WHERE leased_until IS NOT NULL;

-- The token bucket of each rate-limited endpoint, shared by every node, as
-- of updated_at: claims with rate limits refill it (rate_limit tokens a
-- second, up to store.RateBurst) and take a token per delivery, under the
-- endpoint's claim lock. No row is a full bucket. Not exported: it is the
-- state of the queue, not configuration.
CREATE TABLE endpoint_buckets (
    endpoint_id TEXT PRIMARY KEY,
    tokens      DOUBLE PRECISION NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- +goose Down
DROP TABLE endpoint_buckets;
DROP INDEX deliveries_leased;
