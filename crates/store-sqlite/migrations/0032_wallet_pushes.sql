-- The wallet outbox: one row per device to tell that a pass it holds changed (an APNs
-- push with an empty payload to the device's push token). Written in the same
-- transaction as the points change, claimed under a lease by `serve`'s sender, like the
-- webhook and mail outboxes. At most one waiting push per device: a second change
-- before the push went out needs no second push.

CREATE TABLE wallet_pushes (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    push_token      TEXT    NOT NULL,
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
CREATE UNIQUE INDEX wallet_pushes_waiting_idx ON wallet_pushes (push_token) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX wallet_pushes_due_idx ON wallet_pushes (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
