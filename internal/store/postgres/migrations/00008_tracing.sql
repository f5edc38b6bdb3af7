-- hookrelay schema, version 8: tracing. The SQLite store keeps the
-- same numbering.

-- +goose Up
-- trace_context: send the W3C traceparent header of each delivery
-- attempt's span to the endpoint (off by default: a receiver may not want
-- it). traceparent: the trace context of the API request that accepted the
-- event, so that its delivery spans link to it; '' when tracing was off.
ALTER TABLE endpoints ADD COLUMN trace_context BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE events ADD COLUMN traceparent TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE events DROP COLUMN traceparent;
ALTER TABLE endpoints DROP COLUMN trace_context;
