-- Points: customers on the users table with their balance, rewards, purchases, the
-- append-only ledger, idempotency records, till API tokens and the audit log.
-- Every tenant table carries organization_id and every index starts with it.

-- Earning rules and policies per organization.
ALTER TABLE organizations
    ADD COLUMN points_per_unit numeric(12,4) NOT NULL DEFAULT 1 CHECK (points_per_unit >= 0),
    ADD COLUMN min_purchase    numeric(12,2) NOT NULL DEFAULT 0 CHECK (min_purchase >= 0),
    ADD COLUMN expiry_days     integer CHECK (expiry_days IS NULL OR expiry_days > 0),
    ADD COLUMN join_enabled    boolean NOT NULL DEFAULT true;

-- Customers are users with role 'customer'; one enrolled at the till has no identity
-- subject until they register. The balance lives on the row and changes only in the
-- transaction that appends the ledger entry.
ALTER TABLE users
    ADD COLUMN card_number text,
    ADD COLUMN balance     bigint NOT NULL DEFAULT 0 CONSTRAINT users_balance_nonnegative CHECK (balance >= 0),
    ADD COLUMN ledger_seq  bigint NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX users_org_card_key ON users (organization_id, card_number) WHERE card_number IS NOT NULL;
CREATE UNIQUE INDEX users_org_customer_phone_key ON users (organization_id, phone) WHERE role = 'customer' AND phone IS NOT NULL;
CREATE UNIQUE INDEX users_org_customer_email_key ON users (organization_id, lower(email)) WHERE role = 'customer' AND email IS NOT NULL;

CREATE TABLE rewards (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    name            text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    cost_points     bigint      NOT NULL CHECK (cost_points > 0),
    active          boolean     NOT NULL DEFAULT true,
    stock           integer     CHECK (stock IS NULL OR stock >= 0),
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX rewards_org_name_key ON rewards (organization_id, lower(name));

CREATE TABLE purchases (
    id              uuid          PRIMARY KEY,
    organization_id uuid          NOT NULL REFERENCES organizations (id),
    cashier_id      uuid,
    customer_id     uuid          NOT NULL REFERENCES users (id),
    amount          numeric(12,2) NOT NULL CHECK (amount > 0),
    currency        text          NOT NULL,
    points_awarded  bigint        NOT NULL CHECK (points_awarded >= 0),
    reversed_amount numeric(12,2) NOT NULL DEFAULT 0 CHECK (reversed_amount >= 0 AND reversed_amount <= amount),
    points_reversed bigint        NOT NULL DEFAULT 0 CHECK (points_reversed >= 0 AND points_reversed <= points_awarded),
    metadata        jsonb         NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz   NOT NULL
);
CREATE INDEX purchases_org_customer_idx ON purchases (organization_id, customer_id, created_at);
CREATE INDEX purchases_org_created_idx ON purchases (organization_id, created_at);

CREATE TABLE points_transactions (
    id               uuid        PRIMARY KEY,
    organization_id  uuid        NOT NULL REFERENCES organizations (id),
    user_id          uuid        NOT NULL REFERENCES users (id),
    points           bigint      NOT NULL,
    transaction_type text        NOT NULL CHECK (transaction_type IN ('earned', 'redeemed', 'expired', 'adjusted', 'reversed')),
    reference_id     uuid,
    reference_type   text,
    balance_after    bigint      NOT NULL CHECK (balance_after >= 0),
    notes            text,
    created_by       uuid,
    idempotency_key  text,
    seq              bigint      NOT NULL,
    created_at       timestamptz NOT NULL
);
-- seq numbers one customer's entries in commit order (taken from users.ledger_seq under
-- the row lock), so the balance_after chain is checkable and no entry can be doubled.
CREATE UNIQUE INDEX points_transactions_org_user_seq_key ON points_transactions (organization_id, user_id, seq);
CREATE INDEX points_transactions_org_user_idx ON points_transactions (organization_id, user_id, created_at, id);
CREATE INDEX points_transactions_org_created_idx ON points_transactions (organization_id, created_at, id);

-- The ledger is append-only: no update, no delete.
CREATE FUNCTION points_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'points_transactions is append-only: append a compensating entry instead';
END $$;
CREATE TRIGGER points_transactions_no_update BEFORE UPDATE OR DELETE ON points_transactions
    FOR EACH ROW EXECUTE FUNCTION points_transactions_append_only();

-- A retried request with the same key returns the first result.
CREATE TABLE idempotency_keys (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    key             text        NOT NULL,
    request_hash    text        NOT NULL,
    status_code     integer     NOT NULL,
    response        jsonb       NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, key)
);

-- Till devices: org-scoped tokens, stored hashed.
CREATE TABLE api_tokens (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    name            text        NOT NULL,
    role            text        NOT NULL CHECK (role IN ('admin', 'cashier')),
    token_hash      text        NOT NULL,
    created_by      uuid,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE UNIQUE INDEX api_tokens_hash_key ON api_tokens (token_hash);
CREATE INDEX api_tokens_org_idx ON api_tokens (organization_id, created_at);

-- Who changed what, and why.
CREATE TABLE audit_log (
    id              uuid        PRIMARY KEY,
    organization_id uuid        REFERENCES organizations (id),
    actor           text        NOT NULL,
    actor_role      text        NOT NULL,
    action          text        NOT NULL,
    target_type     text,
    target_id       text,
    before          jsonb,
    after           jsonb,
    reason          text,
    request_id      text,
    created_at      timestamptz NOT NULL
);
CREATE INDEX audit_log_org_created_idx ON audit_log (organization_id, created_at, id);

-- Leases for periodic jobs, so that with several instances a job runs on one at a time.
CREATE TABLE job_leases (
    name       text        PRIMARY KEY,
    holder     text        NOT NULL,
    expires_at timestamptz NOT NULL
);
