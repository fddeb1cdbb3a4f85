-- The wallet outbox: one row per device to tell that a pass it holds changed (an APNs
-- push with an empty payload to the device's push token). Written in the same
-- transaction as the points change, claimed under a lease by `serve`'s sender, like the
-- webhook and mail outboxes. At most one waiting push per device: a second change
-- before the push went out needs no second push.

CREATE TABLE wallet_pushes (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    push_token      text        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    last_status     integer,
    last_error      text,
    sent_at         timestamptz,
    failed_at       timestamptz,
    CONSTRAINT wallet_pushes_sent_or_failed CHECK (sent_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX wallet_pushes_waiting_idx ON wallet_pushes (push_token) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX wallet_pushes_due_idx ON wallet_pushes (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

GRANT SELECT, INSERT ON wallet_pushes TO loyalty_tenant;
ALTER TABLE wallet_pushes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_pushes TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
