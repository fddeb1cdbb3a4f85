-- Webhooks: an organization's endpoints and the delivery outbox. A delivery row is
-- written in the same transaction as the change it reports (one row per endpoint whose
-- event filter takes the event); the sender claims due rows under a lease, posts them
-- signed (Standard Webhooks) and records the answer. (endpoint_id, event_id) is unique:
-- one event reaches one endpoint once, and a resend carries the same webhook-id.

CREATE TABLE webhook_endpoints (
    id                   uuid        PRIMARY KEY,
    organization_id      uuid        NOT NULL REFERENCES organizations (id),
    url                  text        NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    -- Comma-separated event types, or '*' for all.
    events               text        NOT NULL CHECK (length(events) BETWEEN 1 AND 1000),
    secret               text        NOT NULL,
    previous_secret      text,
    previous_until       timestamptz,
    active               boolean     NOT NULL DEFAULT true,
    failing_since        timestamptz,
    disabled_at          timestamptz,
    created_at           timestamptz NOT NULL
);
CREATE INDEX webhook_endpoints_org_idx ON webhook_endpoints (organization_id, created_at);

CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id),
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    payload         text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    last_status     integer,
    last_error      text,
    latency_ms      bigint,
    delivered_at    timestamptz,
    failed_at       timestamptz,
    CONSTRAINT webhook_deliveries_sent_or_failed CHECK (delivered_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX webhook_deliveries_event_idx ON webhook_deliveries (endpoint_id, event_id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_org_created_idx ON webhook_deliveries (organization_id, created_at);

-- Events are queued inside tenant transactions (role loyalty_tenant): only the
-- organization's own endpoints are read and its own deliveries written.
GRANT SELECT ON webhook_endpoints TO loyalty_tenant;
GRANT SELECT, INSERT ON webhook_deliveries TO loyalty_tenant;
ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_endpoints TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
ALTER TABLE webhook_deliveries ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON webhook_deliveries TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);

-- The mail to an organization's contact when one of its endpoints is disabled.
ALTER TABLE mail_outbox DROP CONSTRAINT mail_outbox_kind_check;
ALTER TABLE mail_outbox ADD CONSTRAINT mail_outbox_kind_check
    CHECK (kind IN ('sign_in_link', 'password_reset', 'points_receipt', 'expiry_warning', 'test', 'webhook_disabled'));
