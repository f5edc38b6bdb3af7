-- hookrelay schema, version 14: erased events. Both stores keep the same
-- numbering.

-- +goose Up
-- erased_at is when the event's payload and headers, and the request
-- headers and response bodies of its attempts, were erased (on request,
-- or by its tenant's payload retention); NULL while they are kept. An
-- erased event is never delivered again.
ALTER TABLE events ADD COLUMN erased_at INTEGER;

-- +goose Down
ALTER TABLE events DROP COLUMN erased_at;
