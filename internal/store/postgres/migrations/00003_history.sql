-- hookrelay schema, version 3: the same indexes as the SQLite store's
-- 00003_history.sql. Building them blocks writes to the two tables for as
-- long as the build takes, a while on a long history: run `hookrelay
-- migrate` at a quiet moment rather than letting a node start do it.

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
