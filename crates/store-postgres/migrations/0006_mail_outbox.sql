-- Mail: per-organization mail settings (beside the points settings on organizations)
-- and the outbox. A mail is a row written in the same transaction as its cause; a
-- sender claims due rows, sends them and marks them. The dedupe key makes queuing
-- idempotent: the same mail is never queued twice.

ALTER TABLE organizations
    ADD COLUMN mail_sender_name         text CHECK (mail_sender_name IS NULL OR length(mail_sender_name) BETWEEN 1 AND 120),
    ADD COLUMN mail_sender_address      text,
    ADD COLUMN mail_points_receipt      boolean NOT NULL DEFAULT false,
    ADD COLUMN mail_expiry_warning_days integer DEFAULT 7 CHECK (mail_expiry_warning_days IS NULL OR mail_expiry_warning_days BETWEEN 1 AND 365);

CREATE TABLE mail_outbox (
    id              uuid        PRIMARY KEY,
    -- NULL for operator mail (test messages, resets of accounts outside any organization).
    organization_id uuid        REFERENCES organizations (id),
    kind            text        NOT NULL CHECK (kind IN ('sign_in_link', 'password_reset', 'points_receipt', 'expiry_warning', 'test')),
    dedupe_key      text        NOT NULL,
    to_address      text        NOT NULL,
    from_name       text,
    reply_to        text,
    subject         text        NOT NULL,
    body_text       text        NOT NULL,
    body_html       text,
    created_at      timestamptz NOT NULL,
    discard_after   timestamptz,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    last_error      text,
    last_error_at   timestamptz,
    sent_at         timestamptz,
    failed_at       timestamptz,
    CONSTRAINT mail_outbox_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX mail_outbox_dedupe_key ON mail_outbox (dedupe_key);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_org_created_idx ON mail_outbox (organization_id, created_at);

-- Receipts are queued inside tenant transactions (role loyalty_tenant): only the
-- organization's own rows, as everywhere else.
GRANT SELECT, INSERT ON mail_outbox TO loyalty_tenant;
ALTER TABLE mail_outbox ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON mail_outbox TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
