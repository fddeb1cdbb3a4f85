-- Loyalty programs: stamp cards and promotions on top of the earning rule.
-- The organization's current program is read with the organization (one read per
-- request); every version is kept in program_versions. A purchase keeps the version and
-- the breakdown (grants) it was computed with. Stamps are a ledger of their own:
-- stamp_entries (earned, redeemed, reversed) and a guarded balance per card.
ALTER TABLE organizations ADD COLUMN program jsonb NOT NULL DEFAULT '{"version": 0}'::jsonb;

CREATE TABLE program_versions (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    version         bigint      NOT NULL CHECK (version > 0),
    program         jsonb       NOT NULL,
    created_by      uuid,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, version)
);

ALTER TABLE purchases
    ADD COLUMN program_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN grants          jsonb;

CREATE TABLE stamp_balances (
    organization_id uuid   NOT NULL REFERENCES organizations (id),
    customer_id     uuid   NOT NULL REFERENCES users (id),
    card_id         uuid   NOT NULL,
    balance         bigint NOT NULL CHECK (balance >= 0),
    PRIMARY KEY (organization_id, customer_id, card_id)
);

CREATE TABLE stamp_entries (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    card_id         uuid        NOT NULL,
    stamps          bigint      NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('earned', 'redeemed', 'reversed')),
    purchase_id     uuid        REFERENCES purchases (id),
    balance_after   bigint      NOT NULL CHECK (balance_after >= 0),
    created_by      uuid,
    created_at      timestamptz NOT NULL
);
CREATE INDEX stamp_entries_customer_idx ON stamp_entries (organization_id, customer_id, created_at);

-- One row per purchase that got a promotion; a full refund deletes it, giving the use back.
CREATE TABLE promotion_uses (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    promotion_id    uuid        NOT NULL,
    purchase_id     uuid        NOT NULL REFERENCES purchases (id),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, purchase_id, promotion_id)
);
CREATE INDEX promotion_uses_customer_idx ON promotion_uses (organization_id, customer_id, promotion_id);

GRANT SELECT, INSERT ON program_versions, stamp_entries TO loyalty_tenant;
GRANT SELECT, INSERT, UPDATE ON stamp_balances TO loyalty_tenant;
GRANT SELECT, INSERT, DELETE ON promotion_uses TO loyalty_tenant;

ALTER TABLE program_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE stamp_balances ENABLE ROW LEVEL SECURITY;
ALTER TABLE stamp_entries ENABLE ROW LEVEL SECURITY;
ALTER TABLE promotion_uses ENABLE ROW LEVEL SECURITY;

CREATE POLICY tenant_isolation ON program_versions TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON stamp_balances TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON stamp_entries TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
CREATE POLICY tenant_isolation ON promotion_uses TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
