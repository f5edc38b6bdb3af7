-- hookrelay schema, version 2: the inbound gateway. The PostgreSQL store
-- keeps the same numbering.

-- +goose Up
-- What a delivery sends besides the payload: its media type ('' means
-- application/json) and extra headers (a JSON object, NULL for none).
-- Inbound events keep the original request's.
ALTER TABLE events ADD COLUMN content_type TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN headers TEXT;

-- Senders of incoming webhooks, received at /in/{name}.
CREATE TABLE sources (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    description     TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    custom_scheme   TEXT,             -- JSON of a signature.CustomConfig, as given
    secrets         BLOB NOT NULL,    -- Cipher-sealed JSON: the secrets and the Zoom secret token
    tolerance_ms    INTEGER NOT NULL, -- 0: the scheme's own
    dedupe_ms       INTEGER NOT NULL,
    slack_challenge INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Requests the gateway refused, kept a short while for inspection; never
-- with credentials.
CREATE TABLE inbound_rejections (
    id          TEXT PRIMARY KEY,
    source_id   TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    headers     TEXT NOT NULL,        -- JSON object
    body        BLOB NOT NULL,        -- the first 4 KiB
    body_size   INTEGER NOT NULL
);

CREATE INDEX inbound_rejections_source ON inbound_rejections (source_id, id);
CREATE INDEX inbound_rejections_received ON inbound_rejections (received_at);

-- +goose Down
DROP TABLE inbound_rejections;
DROP TABLE sources;
ALTER TABLE events DROP COLUMN headers;
ALTER TABLE events DROP COLUMN content_type;
