-- hookrelay schema, version 1: the same tables, columns and indexes as the
-- SQLite store's 00001_init.sql, in PostgreSQL's types. Times are Unix
-- milliseconds (BIGINT), ids are TEXT, flags are BOOLEAN. The event payload
-- and the custom scheme are BYTEA rather than TEXT: they are kept byte for
-- byte as received, and TEXT would reject a NUL or invalid UTF-8.

-- +goose Up
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    hash         BYTEA NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE endpoints (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL,
    scheme          TEXT NOT NULL,
    custom_scheme   BYTEA,            -- JSON of a signature.CustomConfig, as given
    secrets         BYTEA NOT NULL,   -- Cipher-sealed JSON of the secrets, values included
    event_types     TEXT NOT NULL,    -- JSON array of filters, [] for all
    disabled        BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL,
    fifo            BOOLEAN NOT NULL,
    rate_limit      DOUBLE PRECISION NOT NULL,
    failing_since   BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE INDEX endpoints_tenant ON endpoints (tenant, id);

CREATE TABLE events (
    id              TEXT PRIMARY KEY,
    tenant          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         BYTEA NOT NULL,   -- the JSON text exactly as received
    idempotency_key TEXT,             -- NULL when none was given
    created_at      BIGINT NOT NULL
);

-- The newest event of each (tenant, key). A key whose event is older than
-- the idempotency window is reused by pointing it at the new event, so the
-- uniqueness rule never rejects a legitimate reuse and old events keep
-- their key.
CREATE TABLE idempotency_keys (
    tenant          TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant, idempotency_key)
);

-- Deliveries are small rows looked up by id all the time (the SQLite store
-- clusters the table on it; PostgreSQL has no such clause, its primary key
-- index serves).
-- hold is true for a pending delivery that must not be claimed although it
-- may be due: its endpoint is disabled, or the endpoint is FIFO and this is
-- not its oldest pending delivery. Every write that changes an endpoint's
-- pending set or its disabled/fifo flags keeps it up to date, under the
-- endpoint's advisory lock (see the package doc), so that claiming never
-- has to scan past such rows.
-- leased_until is when the current claim's lease ends, NULL when the
-- delivery is not in flight.
CREATE TABLE deliveries (
    id              TEXT PRIMARY KEY,
    event_id        TEXT NOT NULL REFERENCES events (id),
    endpoint_id     TEXT NOT NULL,    -- no foreign key: history outlives the endpoint
    tenant          TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claim           BIGINT NOT NULL DEFAULT 0,
    leased_until    BIGINT,
    hold            BOOLEAN NOT NULL DEFAULT false,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    fifo            BOOLEAN NOT NULL DEFAULT false,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    completed_at    BIGINT
);

-- "Due now": the claimable pending deliveries in due order, with the
-- endpoint so that excluded endpoints are skipped from the index alone.
-- Partial, so it holds only the live queue however much history
-- accumulates (it plays the part of an index on (status, next_attempt_at)).
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id, endpoint_id)
    WHERE status = 'pending' AND NOT hold;
-- FIFO heads (the oldest pending delivery of an endpoint) and cancel on
-- delete: the pending deliveries of each endpoint in acceptance order.
CREATE INDEX deliveries_pending ON deliveries (endpoint_id, id)
    WHERE status = 'pending';
-- Listing (newest first) by endpoint, event and tenant; replay.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries (event_id, id);
CREATE INDEX deliveries_tenant ON deliveries (tenant, id);
-- Listing failed deliveries, which are few among many. Listing by another
-- status walks the table newest first: succeeded deliveries are most of it,
-- and pending ones are mostly recent. A full (status, id) index would cost
-- every completion two more b-tree writes.
CREATE INDEX deliveries_failed ON deliveries (id) WHERE status = 'failed';

-- One row per HTTP request made; (delivery_id, attempt_number) is the key
-- every read uses, so the id, random and never looked up, is not indexed.
CREATE TABLE attempts (
    id              TEXT NOT NULL,
    delivery_id     TEXT NOT NULL REFERENCES deliveries (id),
    endpoint_id     TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt_number  INTEGER NOT NULL,
    started_at      BIGINT NOT NULL,
    duration_ns     BIGINT NOT NULL,
    url             TEXT NOT NULL,
    request_headers TEXT NOT NULL,    -- JSON object
    status_code     INTEGER NOT NULL,
    error_message   TEXT NOT NULL,
    response_body   BYTEA,            -- truncated by the caller
    trigger_kind    TEXT NOT NULL,
    UNIQUE (delivery_id, attempt_number)
);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE idempotency_keys;
DROP TABLE events;
DROP TABLE endpoints;
DROP TABLE api_keys;
