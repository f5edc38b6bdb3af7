-- hookrelay schema, version 5: bounds on what unauthenticated requests
-- can store, and dashboard sessions kept by the server. The other store's
-- 00005_harden.sql has the same tables.

-- +goose Up
-- What each rejection takes up, headers (JSON) and body together: the
-- store keeps at most store.RejectionBudget of them per source, deleting
-- the oldest first.
ALTER TABLE inbound_rejections ADD COLUMN stored_bytes BIGINT NOT NULL DEFAULT 0;
UPDATE inbound_rejections SET stored_bytes = octet_length(headers) + octet_length(body);

-- The signed-in sessions of the dashboard. The cookie holds a random
-- token; only its SHA-256 is stored, so that a copy of the database opens
-- no session. An admin session belongs to the API key it was opened with
-- and ends when that key is revoked; a portal session sees one tenant.
CREATE TABLE ui_sessions (
    token_hash BYTEA PRIMARY KEY,
    kind       TEXT NOT NULL,   -- 'admin' or 'tenant'
    key_id     TEXT NOT NULL,   -- admin: the api_keys.id; '' otherwise
    tenant     TEXT NOT NULL,   -- tenant: the only tenant it sees; '' otherwise
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX ui_sessions_expires ON ui_sessions (expires_at);
CREATE INDEX ui_sessions_key ON ui_sessions (key_id);

-- +goose Down
DROP TABLE ui_sessions;
ALTER TABLE inbound_rejections DROP COLUMN stored_bytes;
