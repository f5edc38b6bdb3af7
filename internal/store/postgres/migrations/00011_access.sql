-- hookrelay schema, version 11: API keys bound to a tenant and to scopes,
-- and the audit log. The same as the SQLite store's 00011_access.sql.

-- +goose Up
-- tenant NULL: the key sees every tenant. scopes is a JSON array of
-- internal/access scopes; the keys made before this version keep working
-- as the admins they were.
ALTER TABLE api_keys ADD COLUMN tenant TEXT;
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '["admin"]';

-- Every change made through the API or the dashboard: who (actor), what
-- (action, target), when (at), from where (remote_addr). Never a secret.
-- tenant NULL: the change concerns no tenant.
CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,  -- sorts by time
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    tenant      TEXT,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    remote_addr TEXT NOT NULL,
    detail      TEXT NOT NULL
);

CREATE INDEX audit_log_tenant ON audit_log (tenant, id);

-- +goose Down
DROP TABLE audit_log;
ALTER TABLE api_keys DROP COLUMN scopes;
ALTER TABLE api_keys DROP COLUMN tenant;
