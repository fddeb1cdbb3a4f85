-- What each till sent of the purchases it recorded offline: one row per device (a
-- random id the till makes once and keeps) and person signed in on it. When it last
-- sent, how many purchases landed, how many were refused and the last refusal's code.
-- No customer data (docs/till.md).
CREATE TABLE till_devices (
    organization_id   uuid        NOT NULL REFERENCES organizations (id),
    device_id         uuid        NOT NULL,
    cashier           text        NOT NULL CHECK (length(cashier) BETWEEN 1 AND 200),
    last_sync_at      timestamptz NOT NULL,
    offline_purchases bigint      NOT NULL DEFAULT 0 CHECK (offline_purchases >= 0),
    refusals          bigint      NOT NULL DEFAULT 0 CHECK (refusals >= 0),
    last_refusal      text        CHECK (length(last_refusal) BETWEEN 1 AND 100),
    last_refusal_at   timestamptz,
    PRIMARY KEY (organization_id, device_id, cashier)
);

GRANT SELECT, INSERT, UPDATE ON till_devices TO loyalty_tenant;
ALTER TABLE till_devices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON till_devices TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
