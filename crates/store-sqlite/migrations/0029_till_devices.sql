-- What each till sent of the purchases it recorded offline: one row per device (a
-- random id the till makes once and keeps) and person signed in on it. When it last
-- sent, how many purchases landed, how many were refused and the last refusal's code.
-- No customer data (docs/till.md).
CREATE TABLE till_devices (
    organization_id   TEXT    NOT NULL REFERENCES organizations (id),
    device_id         TEXT    NOT NULL,
    cashier           TEXT    NOT NULL CHECK (length(cashier) BETWEEN 1 AND 200),
    last_sync_at      TEXT    NOT NULL,
    offline_purchases INTEGER NOT NULL DEFAULT 0 CHECK (offline_purchases >= 0),
    refusals          INTEGER NOT NULL DEFAULT 0 CHECK (refusals >= 0),
    last_refusal      TEXT    CHECK (length(last_refusal) BETWEEN 1 AND 100),
    last_refusal_at   TEXT,
    PRIMARY KEY (organization_id, device_id, cashier)
);
