-- The post-handoff checklist of each organization (runbook step 7.4): one row per
-- ticked item. An item without a row is not done. Item keys are checked by the
-- program, so new items need no migration.
CREATE TABLE org_checklist (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    item            text        NOT NULL CHECK (item ~ '^[a-z][a-z0-9-]{0,49}$'),
    done_at         timestamptz NOT NULL,
    done_by         text        NOT NULL CHECK (length(done_by) BETWEEN 1 AND 200),
    note            text        CHECK (length(note) <= 2000),
    PRIMARY KEY (organization_id, item)
);

GRANT SELECT, INSERT, UPDATE, DELETE ON org_checklist TO loyalty_tenant;
ALTER TABLE org_checklist ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON org_checklist TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
