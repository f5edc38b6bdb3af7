-- hookrelay schema, version 9: what reaches an endpoint's receiver besides
-- the signed body. The PostgreSQL store's 00009_settings.sql has the same
-- columns.

-- +goose Up
-- settings: the endpoint's static headers, receiver authentication (basic,
-- bearer, OAuth2 client credentials) and client certificate (mTLS), as one
-- JSON document sealed with the secret key (store.SealSettings); NULL when
-- the endpoint has none. Every value in it is a secret.
ALTER TABLE endpoints ADD COLUMN settings BLOB;
-- timeout_ms: the endpoint's request timeout, 0 for the server's.
ALTER TABLE endpoints ADD COLUMN timeout_ms INTEGER NOT NULL DEFAULT 0;
-- retry_schedule: the JSON array of the delays (ms) after attempts 1, 2,
-- ...; NULL for the server's schedule.
ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN retry_schedule;
ALTER TABLE endpoints DROP COLUMN timeout_ms;
ALTER TABLE endpoints DROP COLUMN settings;
