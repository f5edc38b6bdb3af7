-- hookrelay schema, version 12: the event catalog. The PostgreSQL store
-- keeps the same numbering.

-- +goose Up
-- One row per event type. schema and example are JSON text kept as
-- given, NULL when there is none.
CREATE TABLE event_types (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL DEFAULT '',
    schema      TEXT,
    example     TEXT,
    deprecated  INTEGER NOT NULL DEFAULT 0,
    enforce     INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- The events of a tenant in a window of time, oldest first: what
-- ReplayMissing walks to find those an endpoint missed.
CREATE INDEX events_tenant_created ON events (tenant, created_at, id);

-- +goose Down
DROP INDEX events_tenant_created;
DROP TABLE event_types;
