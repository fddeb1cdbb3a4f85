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
