-- hookrelay schema, version 6: the node that holds each lease. The SQLite
-- store keeps the same numbering.

-- +goose Up
-- leased_by names the node whose claim holds the lease (the Store's
-- Config.NodeID), NULL when it had none. A node that restarts takes back
-- its own unexpired leases at once (ReleaseLeases): it knows their
-- attempts died with it. Other nodes' leases run out as before. The
-- deliveries_leased index holds every leased row, so the release reads
-- only those.
ALTER TABLE deliveries ADD COLUMN leased_by TEXT;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN leased_by;
