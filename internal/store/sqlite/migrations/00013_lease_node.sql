-- hookrelay schema, version 6: the node that holds each lease. The
-- PostgreSQL store keeps the same numbering.

-- +goose Up
-- leased_by names the node whose claim holds the lease (store's
-- Config.NodeID), NULL when none was given. A SQLite database has one
-- process at a time (the lock file), so at start every lease is a dead
-- process's and ReleaseLeases takes them all back whoever held them; the
-- column is kept for the same schema on both stores and for inspection.
ALTER TABLE deliveries ADD COLUMN leased_by TEXT;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN leased_by;
