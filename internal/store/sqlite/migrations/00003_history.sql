-- hookrelay schema, version 3: indexes for reading history in bulk. The
-- PostgreSQL store keeps the same numbering.

-- +goose Up
-- Endpoint health: an endpoint's latest attempts, newest first, without
-- walking its deliveries (past a backlog of pending ones never attempted).
-- Attempts are only ever inserted, so the index costs one insert each.
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, started_at);
-- Per-minute charts: the deliveries created in a time range. created_at
-- never changes, so the index costs one insert per delivery.
CREATE INDEX deliveries_created ON deliveries (created_at);

-- +goose Down
DROP INDEX deliveries_created;
DROP INDEX attempts_endpoint;
