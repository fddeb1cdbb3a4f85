-- Points: customers on the users table with their balance, rewards, purchases, the
-- append-only ledger, idempotency records, till API tokens and the audit log.
-- Amounts (numeric on PostgreSQL) are canonical decimal text here.

ALTER TABLE organizations ADD COLUMN points_per_unit TEXT NOT NULL DEFAULT '1';
ALTER TABLE organizations ADD COLUMN min_purchase TEXT NOT NULL DEFAULT '0';
ALTER TABLE organizations ADD COLUMN expiry_days INTEGER CHECK (expiry_days IS NULL OR expiry_days > 0);
ALTER TABLE organizations ADD COLUMN join_enabled INTEGER NOT NULL DEFAULT 1;

ALTER TABLE users ADD COLUMN card_number TEXT;
ALTER TABLE users ADD COLUMN balance INTEGER NOT NULL DEFAULT 0 CHECK (balance >= 0);
ALTER TABLE users ADD COLUMN ledger_seq INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_org_card_key ON users (organization_id, card_number) WHERE card_number IS NOT NULL;
CREATE UNIQUE INDEX users_org_customer_phone_key ON users (organization_id, phone) WHERE role = 'customer' AND phone IS NOT NULL;
CREATE UNIQUE INDEX users_org_customer_email_key ON users (organization_id, lower(email)) WHERE role = 'customer' AND email IS NOT NULL;

CREATE TABLE rewards (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    name            TEXT    NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 120),
    cost_points     INTEGER NOT NULL CHECK (cost_points > 0),
    active          INTEGER NOT NULL DEFAULT 1,
    stock           INTEGER CHECK (stock IS NULL OR stock >= 0),
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL
);
CREATE UNIQUE INDEX rewards_org_name_key ON rewards (organization_id, lower(name));

CREATE TABLE purchases (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    cashier_id      TEXT,
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    amount          TEXT    NOT NULL,
    currency        TEXT    NOT NULL,
    points_awarded  INTEGER NOT NULL CHECK (points_awarded >= 0),
    reversed_amount TEXT    NOT NULL DEFAULT '0',
    points_reversed INTEGER NOT NULL DEFAULT 0 CHECK (points_reversed >= 0 AND points_reversed <= points_awarded),
    metadata        TEXT    NOT NULL DEFAULT '{}',
    created_at      TEXT    NOT NULL
);
CREATE INDEX purchases_org_customer_idx ON purchases (organization_id, customer_id, created_at);
CREATE INDEX purchases_org_created_idx ON purchases (organization_id, created_at);

CREATE TABLE points_transactions (
    id               TEXT    PRIMARY KEY NOT NULL,
    organization_id  TEXT    NOT NULL REFERENCES organizations (id),
    user_id          TEXT    NOT NULL REFERENCES users (id),
    points           INTEGER NOT NULL,
    transaction_type TEXT    NOT NULL CHECK (transaction_type IN ('earned', 'redeemed', 'expired', 'adjusted', 'reversed')),
    reference_id     TEXT,
    reference_type   TEXT,
    balance_after    INTEGER NOT NULL CHECK (balance_after >= 0),
    notes            TEXT,
    created_by       TEXT,
    idempotency_key  TEXT,
    seq              INTEGER NOT NULL,
    created_at       TEXT    NOT NULL
);
CREATE UNIQUE INDEX points_transactions_org_user_seq_key ON points_transactions (organization_id, user_id, seq);
CREATE INDEX points_transactions_org_user_idx ON points_transactions (organization_id, user_id, created_at, id);
CREATE INDEX points_transactions_org_created_idx ON points_transactions (organization_id, created_at, id);

CREATE TRIGGER points_transactions_no_update BEFORE UPDATE ON points_transactions
BEGIN SELECT RAISE(ABORT, 'points_transactions is append-only: append a compensating entry instead'); END;
CREATE TRIGGER points_transactions_no_delete BEFORE DELETE ON points_transactions
BEGIN SELECT RAISE(ABORT, 'points_transactions is append-only: append a compensating entry instead'); END;

CREATE TABLE idempotency_keys (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    key             TEXT    NOT NULL,
    request_hash    TEXT    NOT NULL,
    status_code     INTEGER NOT NULL,
    response        TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (organization_id, key)
);

CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'cashier')),
    token_hash      TEXT NOT NULL,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT,
    revoked_at      TEXT
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_org_idx ON api_tokens (organization_id, created_at);

CREATE TABLE audit_log (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT REFERENCES organizations (id),
    actor           TEXT NOT NULL,
    actor_role      TEXT NOT NULL,
    action          TEXT NOT NULL,
    target_type     TEXT,
    target_id       TEXT,
    before          TEXT,
    after           TEXT,
    reason          TEXT,
    request_id      TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX audit_log_org_created_idx ON audit_log (organization_id, created_at, id);

CREATE TABLE job_leases (
    name       TEXT PRIMARY KEY NOT NULL,
    holder     TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
