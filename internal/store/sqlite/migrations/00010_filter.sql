-- hookrelay schema, version 10: payload filters of endpoints. The
-- PostgreSQL store keeps the same numbering.

-- +goose Up
-- filter is the JSON text of the endpoint's payload filter
-- (internal/filter), as the person wrote it; NULL for none.
ALTER TABLE endpoints ADD COLUMN filter TEXT;

-- +goose Down
ALTER TABLE endpoints DROP COLUMN filter;
