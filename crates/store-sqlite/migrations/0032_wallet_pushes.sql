-- The wallet outbox: one row per thing to tell that a member's card changed: an Apple
-- device (`apns`: an APNs push with an empty payload to the device's push token in
-- `target`) or Google Wallet (`google`: the member's loyalty object, `target` the
-- customer id, updated through the REST API). Written in the same transaction as the
-- points change, claimed under a lease by `serve`'s sender, like the webhook and mail
-- outboxes. At most one waiting row per target: a second change before the first went
-- out needs no second message. `wallet_google_objects`: the members whose "Save to
-- Google Wallet" link was made (their object exists at Google once they saved it).

CREATE TABLE wallet_pushes (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    kind            TEXT    NOT NULL CHECK (kind IN ('apns', 'google')),
    target          TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT    NOT NULL,
    claimed_until   TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    sent_at         TEXT,
    failed_at       TEXT,
    CHECK (sent_at IS NULL OR failed_at IS NULL)
);
CREATE UNIQUE INDEX wallet_pushes_waiting_idx ON wallet_pushes (kind, target) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX wallet_pushes_due_idx ON wallet_pushes (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;

CREATE TABLE wallet_google_objects (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (organization_id, customer_id)
);
