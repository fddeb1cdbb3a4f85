-- Apple Wallet passes and the devices that registered them (Apple's PassKit web
-- service). One pass per member (its serial number is `{organization}.{customer}`); each
-- download of the pass carries a fresh authentication token, of which only the SHA-256
-- is kept; a device registers a pass with its push token. `updated_us` (microseconds
-- since the epoch) moves forward, by at least a second, with every change of what the
-- pass shows, in the change's transaction: it is the pass's Last-Modified and the tag of
-- "passes updated since".

CREATE TABLE wallet_passes (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    updated_us      bigint      NOT NULL,
    voided          boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, customer_id)
);

CREATE TABLE wallet_pass_tokens (
    token_hash      text        PRIMARY KEY,
    organization_id uuid        NOT NULL,
    customer_id     uuid        NOT NULL,
    created_at      timestamptz NOT NULL,
    FOREIGN KEY (organization_id, customer_id) REFERENCES wallet_passes (organization_id, customer_id)
);
CREATE INDEX wallet_pass_tokens_pass_idx ON wallet_pass_tokens (organization_id, customer_id);

CREATE TABLE wallet_registrations (
    organization_id   uuid        NOT NULL,
    customer_id       uuid        NOT NULL,
    device_library_id text        NOT NULL CHECK (length(device_library_id) BETWEEN 1 AND 200),
    push_token        text        NOT NULL CHECK (length(push_token) BETWEEN 1 AND 200),
    created_at        timestamptz NOT NULL,
    PRIMARY KEY (organization_id, device_library_id, customer_id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES wallet_passes (organization_id, customer_id)
);
CREATE INDEX wallet_registrations_pass_idx ON wallet_registrations (organization_id, customer_id);

-- A points change moves its member's pass inside the tenant transaction.
GRANT SELECT, INSERT, UPDATE, DELETE ON wallet_passes, wallet_pass_tokens, wallet_registrations TO loyalty_tenant;
ALTER TABLE wallet_passes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_passes TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
ALTER TABLE wallet_pass_tokens ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_pass_tokens TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
ALTER TABLE wallet_registrations ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_registrations TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
