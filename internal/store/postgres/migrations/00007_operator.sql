-- hookrelay schema, version 7: settings of the installation kept in the
-- database. The SQLite store keeps the same numbering.

-- +goose Up
-- One row per setting. key_check is a known text sealed with the secret
-- key (see store.KeyChecker): serve opens it at start and refuses a key
-- that does not open it, instead of running with a lost or another
-- installation's key. Not exported: the key check belongs to the key of the
-- database it is in, and an import records its own.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

-- +goose Down
DROP TABLE meta;
