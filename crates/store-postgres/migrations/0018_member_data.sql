-- Members' data: birth date, marketing consent with when and where it was answered, the
-- row key of a customer file import (so importing the same file again changes nothing),
-- claim links for customers enrolled at the till, and opening balances as a ledger
-- entry type of their own.
ALTER TABLE users
    ADD COLUMN birth_date               date,
    ADD COLUMN marketing_consent        boolean NOT NULL DEFAULT false,
    ADD COLUMN marketing_consent_at     timestamptz,
    ADD COLUMN marketing_consent_source text
        CHECK (marketing_consent_source IS NULL OR marketing_consent_source IN ('import', 'portal', 'join', 'staff')),
    ADD COLUMN import_key               text;
CREATE UNIQUE INDEX users_org_import_key ON users (organization_id, import_key) WHERE import_key IS NOT NULL;

CREATE TABLE claim_links (
    token_hash      text        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    created_at      timestamptz NOT NULL
);
CREATE INDEX claim_links_org_customer_idx ON claim_links (organization_id, customer_id);
GRANT SELECT, INSERT, UPDATE ON claim_links TO loyalty_tenant;
ALTER TABLE claim_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON claim_links TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);

ALTER TABLE points_transactions
    DROP CONSTRAINT points_transactions_transaction_type_check,
    ADD CONSTRAINT points_transactions_transaction_type_check
        CHECK (transaction_type IN ('earned', 'redeemed', 'expired', 'adjusted', 'reversed', 'opening'));
