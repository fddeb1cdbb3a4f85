-- The erasure log: which customer of which organization was erased, and when. It holds
-- no personal data. A restore of a backup reads the log of the database it replaces
-- and erases those customers again in the restored one, so a restore never brings
-- erased data back (docs/privacy.md).
CREATE TABLE erasures (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    erased_at       timestamptz NOT NULL,
    actor_role      text        NOT NULL CHECK (length(actor_role) BETWEEN 1 AND 50)
);
CREATE UNIQUE INDEX erasures_org_customer_key ON erasures (organization_id, customer_id);

GRANT SELECT, INSERT ON erasures TO loyalty_tenant;
ALTER TABLE erasures ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON erasures TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
