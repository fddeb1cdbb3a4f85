-- Tiers: a customer's tier as the last recalculation left it, and since when they are
-- below it (a grace period); every move between tiers is a row of tier_moves.
ALTER TABLE users ADD COLUMN tier_id TEXT;
ALTER TABLE users ADD COLUMN tier_below_since TEXT;
CREATE INDEX users_org_tier_idx ON users (organization_id, tier_id) WHERE tier_id IS NOT NULL;

CREATE TABLE tier_moves (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    from_tier       TEXT,
    to_tier         TEXT,
    qualifying      TEXT    NOT NULL,
    bonus_points    INTEGER NOT NULL DEFAULT 0 CHECK (bonus_points >= 0),
    created_at      TEXT    NOT NULL
);
CREATE INDEX tier_moves_customer_idx ON tier_moves (organization_id, customer_id, created_at);

-- The recalculation sums each customer's purchase points in the window.
CREATE INDEX points_transactions_org_ref_created_idx
    ON points_transactions (organization_id, reference_type, created_at);
