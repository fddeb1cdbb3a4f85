-- The organization checks an operator runs from the console (the organization checks of
-- `loyalty doctor --org`), kept with their time; the console shows the latest run of
-- each shop. Operators' data: tenants never read it, so loyalty_tenant has no grant.
CREATE TABLE org_check_runs (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    ran_at          timestamptz NOT NULL,
    ran_by          text        NOT NULL CHECK (length(ran_by) BETWEEN 1 AND 200),
    worst           text        NOT NULL CHECK (worst IN ('ok', 'warn', 'fail')),
    ok_count        bigint      NOT NULL,
    warn_count      bigint      NOT NULL,
    fail_count      bigint      NOT NULL,
    results         jsonb       NOT NULL DEFAULT '[]'
);
CREATE INDEX org_check_runs_org_idx ON org_check_runs (organization_id, ran_at);
