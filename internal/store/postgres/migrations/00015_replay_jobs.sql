-- hookrelay schema, version 15: bulk replay jobs. Both stores keep the
-- same numbering.

-- +goose Up
-- A replay job walks its window batch by batch; each batch commits its
-- deliveries with cursor, scanned and queued in one transaction, so that a
-- restarted job resumes from cursor. tenant NULL is a job over every
-- tenant; endpoint_id NULL one over every endpoint of tenant. leased_by and
-- leased_until say which node runs it (one node at a time); not_before is
-- when its rate cap lets the next batch run.
CREATE TABLE replay_jobs (
	id           TEXT PRIMARY KEY,
	tenant       TEXT,
	endpoint_id  TEXT,
	kind         TEXT NOT NULL,
	since        BIGINT NOT NULL,
	until        BIGINT,
	event_types  TEXT NOT NULL DEFAULT '[]',
	statuses     TEXT NOT NULL DEFAULT '[]',
	rate         BIGINT NOT NULL DEFAULT 0,
	state        TEXT NOT NULL,
	scanned      BIGINT NOT NULL DEFAULT 0,
	queued       BIGINT NOT NULL DEFAULT 0,
	cursor       TEXT NOT NULL DEFAULT '',
	error        TEXT NOT NULL DEFAULT '',
	created_at   BIGINT NOT NULL,
	started_at   BIGINT,
	finished_at  BIGINT,
	not_before   BIGINT NOT NULL DEFAULT 0,
	leased_by    TEXT,
	leased_until BIGINT
);
CREATE INDEX replay_jobs_tenant ON replay_jobs (tenant, id);
CREATE INDEX replay_jobs_active ON replay_jobs (not_before, id) WHERE state IN ('queued', 'running');
-- The replayable deliveries of an endpoint by creation, for the batches of
-- a failed-deliveries replay.
CREATE INDEX deliveries_replayable ON deliveries (endpoint_id, created_at, id) WHERE status IN ('failed', 'canceled');

-- +goose Down
DROP INDEX deliveries_replayable;
DROP TABLE replay_jobs;
