-- Webhooks: an organization's endpoints and the delivery outbox. A delivery row is
-- written in the same transaction as the change it reports (one row per endpoint whose
-- event filter takes the event); the sender claims due rows under a lease, posts them
-- signed (Standard Webhooks) and records the answer. (endpoint_id, event_id) is unique:
-- one event reaches one endpoint once, and a resend carries the same webhook-id.

CREATE TABLE webhook_endpoints (
    id                   TEXT    PRIMARY KEY NOT NULL,
    organization_id      TEXT    NOT NULL REFERENCES organizations (id),
    url                  TEXT    NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    -- Comma-separated event types, or '*' for all.
    events               TEXT    NOT NULL CHECK (length(events) BETWEEN 1 AND 1000),
    secret               TEXT    NOT NULL,
    previous_secret      TEXT,
    previous_until       TEXT,
    active               INTEGER NOT NULL DEFAULT 1,
    failing_since        TEXT,
    disabled_at          TEXT,
    created_at           TEXT    NOT NULL
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id, created_at);

CREATE TABLE webhook_deliveries (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    endpoint_id     TEXT    NOT NULL REFERENCES webhook_endpoints (id),
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    latency_ms      INTEGER,
    delivered_at    TEXT,
    failed_at       TEXT,
    CHECK (delivered_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX webhook_deliveries_event_idx ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_org_created_idx ON webhook_deliveries (organization_id, created_at);

-- The mail to an organization's contact when one of its endpoints is disabled: a new
-- mail kind, so the outbox is rebuilt with the wider CHECK (SQLite cannot alter one).
CREATE TABLE mail_outbox_new (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    REFERENCES organizations (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('sign_in_link', 'password_reset', 'points_receipt', 'expiry_warning', 'test', 'webhook_disabled')),
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
INSERT INTO mail_outbox_new (id, organization_id, kind, dedupe_key, to_address, from_name, reply_to, subject, body_text,
    body_html, created_at, discard_after, attempts, next_attempt_at, claimed_until, last_error, last_error_at, sent_at, failed_at)
SELECT id, organization_id, kind, dedupe_key, to_address, from_name, reply_to, subject, body_text,
    body_html, created_at, discard_after, attempts, next_attempt_at, claimed_until, last_error, last_error_at, sent_at, failed_at
FROM mail_outbox;
DROP TABLE mail_outbox;
ALTER TABLE mail_outbox_new RENAME TO mail_outbox;
CREATE UNIQUE INDEX mail_outbox_dedupe_key ON mail_outbox (dedupe_key);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_org_created_idx ON mail_outbox (organization_id, created_at);
CREATE INDEX mail_outbox_finished_idx ON mail_outbox (COALESCE(sent_at, failed_at))
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;
