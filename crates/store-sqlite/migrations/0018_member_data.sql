-- Members' data: birth date, marketing consent with when and where it was answered, the
-- row key of a customer file import (so importing the same file again changes nothing),
-- claim links for customers enrolled at the till, and opening balances as a ledger
-- entry type of their own.
ALTER TABLE users ADD COLUMN birth_date TEXT;
ALTER TABLE users ADD COLUMN marketing_consent INTEGER NOT NULL DEFAULT 0 CHECK (marketing_consent IN (0, 1));
ALTER TABLE users ADD COLUMN marketing_consent_at TEXT;
ALTER TABLE users ADD COLUMN marketing_consent_source TEXT
    CHECK (marketing_consent_source IS NULL OR marketing_consent_source IN ('import', 'portal', 'join', 'staff'));
ALTER TABLE users ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX users_org_import_key ON users (organization_id, import_key) WHERE import_key IS NOT NULL;

CREATE TABLE claim_links (
    token_hash      TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    customer_id     TEXT NOT NULL REFERENCES users (id),
    expires_at      TEXT NOT NULL,
    used_at         TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX claim_links_org_customer_idx ON claim_links (organization_id, customer_id);

-- SQLite cannot change a CHECK: the ledger table is rebuilt with 'opening' allowed
-- (DROP TABLE fires no triggers; the append-only triggers and indexes are recreated).
CREATE TABLE points_transactions_new (
    id               TEXT    PRIMARY KEY NOT NULL,
    organization_id  TEXT    NOT NULL REFERENCES organizations (id),
    user_id          TEXT    NOT NULL REFERENCES users (id),
    points           INTEGER NOT NULL,
    transaction_type TEXT    NOT NULL CHECK (transaction_type IN ('earned', 'redeemed', 'expired', 'adjusted', 'reversed', 'opening')),
    reference_id     TEXT,
    reference_type   TEXT,
    balance_after    INTEGER NOT NULL CHECK (balance_after >= 0),
    notes            TEXT,
    created_by       TEXT,
    idempotency_key  TEXT,
    seq              INTEGER NOT NULL,
    created_at       TEXT    NOT NULL
);
INSERT INTO points_transactions_new SELECT id, organization_id, user_id, points, transaction_type, reference_id,
    reference_type, balance_after, notes, created_by, idempotency_key, seq, created_at FROM points_transactions;
DROP TABLE points_transactions;
ALTER TABLE points_transactions_new RENAME TO points_transactions;
CREATE UNIQUE INDEX points_transactions_org_user_seq_key ON points_transactions (organization_id, user_id, seq);
CREATE INDEX points_transactions_org_user_idx ON points_transactions (organization_id, user_id, created_at, id);
CREATE INDEX points_transactions_org_created_idx ON points_transactions (organization_id, created_at, id);
CREATE TRIGGER points_transactions_no_update BEFORE UPDATE ON points_transactions
BEGIN SELECT RAISE(ABORT, 'points_transactions is append-only: append a compensating entry instead'); END;
CREATE TRIGGER points_transactions_no_delete BEFORE DELETE ON points_transactions
BEGIN SELECT RAISE(ABORT, 'points_transactions is append-only: append a compensating entry instead'); END;
