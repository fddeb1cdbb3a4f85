-- Mail: per-organization mail settings (beside the points settings on organizations)
-- and the outbox. A mail is a row written in the same transaction as its cause; the
-- sender claims due rows, sends them and marks them. The dedupe key makes queuing
-- idempotent: the same mail is never queued twice.

ALTER TABLE organizations ADD COLUMN mail_sender_name TEXT CHECK (mail_sender_name IS NULL OR length(mail_sender_name) BETWEEN 1 AND 120);
ALTER TABLE organizations ADD COLUMN mail_sender_address TEXT;
ALTER TABLE organizations ADD COLUMN mail_points_receipt INTEGER NOT NULL DEFAULT 0;
ALTER TABLE organizations ADD COLUMN mail_expiry_warning_days INTEGER DEFAULT 7 CHECK (mail_expiry_warning_days IS NULL OR mail_expiry_warning_days BETWEEN 1 AND 365);

CREATE TABLE mail_outbox (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    REFERENCES organizations (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('sign_in_link', 'password_reset', 'points_receipt', 'expiry_warning', 'test')),
    dedupe_key      TEXT    NOT NULL,
    to_address      TEXT    NOT NULL,
    from_name       TEXT,
    reply_to        TEXT,
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT,
    created_at      TEXT    NOT NULL,
    discard_after   TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT,
    last_error      TEXT,
    last_error_at   TEXT,
    sent_at         TEXT,
    failed_at       TEXT,
    CHECK (sent_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX mail_outbox_dedupe_key ON mail_outbox (dedupe_key);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_org_created_idx ON mail_outbox (organization_id, created_at);
