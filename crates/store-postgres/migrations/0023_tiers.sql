-- Tiers: a customer's tier as the last recalculation left it, and since when they are
-- below it (a grace period); every move between tiers is a row of tier_moves.
ALTER TABLE users
    ADD COLUMN tier_id          uuid,
    ADD COLUMN tier_below_since timestamptz;
CREATE INDEX users_org_tier_idx ON users (organization_id, tier_id) WHERE tier_id IS NOT NULL;

CREATE TABLE tier_moves (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    from_tier       uuid,
    to_tier         uuid,
    qualifying      numeric     NOT NULL,
    bonus_points    bigint      NOT NULL DEFAULT 0 CHECK (bonus_points >= 0),
    created_at      timestamptz NOT NULL
);
CREATE INDEX tier_moves_customer_idx ON tier_moves (organization_id, customer_id, created_at);

-- The recalculation sums each customer's purchase points in the window.
CREATE INDEX points_transactions_org_ref_created_idx
    ON points_transactions (organization_id, reference_type, created_at);

GRANT SELECT, INSERT ON tier_moves TO loyalty_tenant;
ALTER TABLE tier_moves ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tier_moves TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
