-- hookrelay schema, version 16: finding events. Both stores keep the same
-- numbering.

-- +goose Up
-- event_fields holds, for each event, the value of each payload path the
-- store was told is searchable (store.FieldKey of the value), written in
-- the event's transaction, deleted with its event or when its payload is
-- erased.
CREATE TABLE event_fields (
    event_id   TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    path       TEXT NOT NULL,
    value_key  TEXT NOT NULL,
    created_at INTEGER NOT NULL, -- the event's
    PRIMARY KEY (event_id, path)
) WITHOUT ROWID;
CREATE INDEX event_fields_lookup ON event_fields (path, value_key, created_at, event_id);
-- Lists of events, newest first (created_at, id), by time, type and tenant.
CREATE INDEX events_created ON events (created_at, id);
CREATE INDEX events_type_created ON events (event_type, created_at, id);
CREATE INDEX events_tenant_type_created ON events (tenant, event_type, created_at, id);
CREATE INDEX events_tenant_time ON events (tenant, created_at, id);

-- +goose Down
DROP INDEX events_tenant_time;
DROP INDEX events_tenant_type_created;
DROP INDEX events_type_created;
DROP INDEX events_created;
DROP TABLE event_fields;
