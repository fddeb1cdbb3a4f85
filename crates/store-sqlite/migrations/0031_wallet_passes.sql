-- Apple Wallet passes and the devices that registered them (Apple's PassKit web
-- service). One pass per member (its serial number is `{organization}.{customer}`); each
-- download of the pass carries a fresh authentication token, of which only the SHA-256
-- is kept; a device registers a pass with its push token. `updated_us` (microseconds
-- since the epoch) moves forward, by at least a second, with every change of what the
-- pass shows, in the change's transaction: it is the pass's Last-Modified and the tag of
-- "passes updated since".

CREATE TABLE wallet_passes (
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    updated_us      INTEGER NOT NULL,
    voided          INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    PRIMARY KEY (organization_id, customer_id)
);

CREATE TABLE wallet_pass_tokens (
    token_hash      TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL,
    customer_id     TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    FOREIGN KEY (organization_id, customer_id) REFERENCES wallet_passes (organization_id, customer_id)
);
CREATE INDEX wallet_pass_tokens_pass_idx ON wallet_pass_tokens (organization_id, customer_id);

CREATE TABLE wallet_registrations (
    organization_id   TEXT    NOT NULL,
    customer_id       TEXT    NOT NULL,
    device_library_id TEXT    NOT NULL CHECK (length(device_library_id) BETWEEN 1 AND 200),
    push_token        TEXT    NOT NULL CHECK (length(push_token) BETWEEN 1 AND 200),
    created_at        TEXT    NOT NULL,
    PRIMARY KEY (organization_id, device_library_id, customer_id),
    FOREIGN KEY (organization_id, customer_id) REFERENCES wallet_passes (organization_id, customer_id)
);
CREATE INDEX wallet_registrations_pass_idx ON wallet_registrations (organization_id, customer_id);
