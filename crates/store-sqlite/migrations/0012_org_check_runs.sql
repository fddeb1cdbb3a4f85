-- The organization checks an operator runs from the console (the organization checks of
-- `loyalty doctor --org`), kept with their time; the console shows the latest run of
-- each shop.
CREATE TABLE org_check_runs (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    ran_at          TEXT    NOT NULL,
    ran_by          TEXT    NOT NULL CHECK (length(ran_by) BETWEEN 1 AND 200),
    worst           TEXT    NOT NULL CHECK (worst IN ('ok', 'warn', 'fail')),
    ok_count        INTEGER NOT NULL,
    warn_count      INTEGER NOT NULL,
    fail_count      INTEGER NOT NULL,
    results         TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX org_check_runs_org_idx ON org_check_runs (organization_id, ran_at);
