-- The wallet outbox: one row per thing to tell that a member's card changed: an Apple
-- device (`apns`: an APNs push with an empty payload to the device's push token in
-- `target`) or Google Wallet (`google`: the member's loyalty object, `target` the
-- customer id, updated through the REST API). Written in the same transaction as the
-- points change, claimed under a lease by `serve`'s sender, like the webhook and mail
-- outboxes. At most one waiting row per target: a second change before the first went
-- out needs no second message. `wallet_google_objects`: the members whose "Save to
-- Google Wallet" link was made (their object exists at Google once they saved it).

CREATE TABLE wallet_pushes (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    kind            text        NOT NULL CHECK (kind IN ('apns', 'google')),
    target          text        NOT NULL,
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
CREATE UNIQUE INDEX wallet_pushes_waiting_idx ON wallet_pushes (kind, target) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX wallet_pushes_due_idx ON wallet_pushes (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE wallet_google_objects (
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (organization_id, customer_id)
);

GRANT SELECT, INSERT ON wallet_pushes TO loyalty_tenant;
GRANT SELECT, INSERT, DELETE ON wallet_google_objects TO loyalty_tenant;
ALTER TABLE wallet_google_objects ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_google_objects TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
ALTER TABLE wallet_pushes ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_pushes TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
