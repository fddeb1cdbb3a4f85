-- Row-level security: inside a tenant transaction the store switches to the role
-- loyalty_tenant and names its organization in the setting loyalty.org_id
-- (SET LOCAL, so both end with the transaction). Every tenant table then shows and
-- accepts only that organization's rows, so a query that forgot its organization
-- filter fails closed instead of reading or writing another tenant's data.

DO $$
BEGIN
    CREATE ROLE loyalty_tenant NOLOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- The connecting user must be able to SET ROLE loyalty_tenant (a superuser always can).
DO $$
BEGIN
    EXECUTE format('GRANT loyalty_tenant TO %I', current_user);
EXCEPTION
    WHEN OTHERS THEN NULL;
END
$$;

GRANT SELECT ON organizations TO loyalty_tenant;
GRANT SELECT, INSERT, UPDATE ON users, purchases, rewards, idempotency_keys, api_tokens TO loyalty_tenant;
GRANT SELECT, INSERT ON points_transactions, audit_log TO loyalty_tenant;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE purchases ENABLE ROW LEVEL SECURITY;
ALTER TABLE rewards ENABLE ROW LEVEL SECURITY;
ALTER TABLE points_transactions ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON users TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON purchases TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON rewards TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON points_transactions TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON idempotency_keys TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON api_tokens TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON audit_log TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
