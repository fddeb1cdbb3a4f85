-- Loyalty programs: stamp cards and promotions on top of the earning rule.
-- The organization's current program is read with the organization (one read per
-- request); every version is kept in program_versions. A purchase keeps the version and
-- the breakdown (grants) it was computed with. Stamps are a ledger of their own:
-- stamp_entries (earned, redeemed, reversed) and a guarded balance per card.
ALTER TABLE organizations ADD COLUMN program TEXT NOT NULL DEFAULT '{"version": 0}';

CREATE TABLE program_versions (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    version         INTEGER NOT NULL CHECK (version > 0),
    program         TEXT    NOT NULL,
    created_by      TEXT,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (organization_id, version)
);

ALTER TABLE purchases ADD COLUMN program_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE purchases ADD COLUMN grants TEXT;

CREATE TABLE stamp_balances (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    card_id         TEXT    NOT NULL,
    balance         INTEGER NOT NULL CHECK (balance >= 0),
    PRIMARY KEY (organization_id, customer_id, card_id)
);

CREATE TABLE stamp_entries (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    card_id         TEXT    NOT NULL,
    stamps          INTEGER NOT NULL,
    kind            TEXT    NOT NULL CHECK (kind IN ('earned', 'redeemed', 'reversed')),
    purchase_id     TEXT    REFERENCES purchases (id),
    balance_after   INTEGER NOT NULL CHECK (balance_after >= 0),
    created_by      TEXT,
    created_at      TEXT    NOT NULL
);
CREATE INDEX stamp_entries_customer_idx ON stamp_entries (organization_id, customer_id, created_at);

-- One row per purchase that got a promotion; a full refund deletes it, giving the use back.
CREATE TABLE promotion_uses (
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    customer_id     TEXT NOT NULL REFERENCES users (id),
    promotion_id    TEXT NOT NULL,
    purchase_id     TEXT NOT NULL REFERENCES purchases (id),
    created_at      TEXT NOT NULL,
    PRIMARY KEY (organization_id, purchase_id, promotion_id)
);
CREATE INDEX promotion_uses_customer_idx ON promotion_uses (organization_id, customer_id, promotion_id);
