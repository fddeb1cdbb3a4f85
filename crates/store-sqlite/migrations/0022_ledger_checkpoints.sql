-- Signed checkpoints of the ledger's hash chain (docs/integrity.md): the chain heads of
-- one organization's customers at one moment, signed with the installation's Ed25519
-- key. Never updated: a checkpoint is evidence.
CREATE TABLE ledger_checkpoints (
    id              TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    created_at      TEXT    NOT NULL,
    customers       INTEGER NOT NULL,
    entries         INTEGER NOT NULL,
    -- SHA-256 over the heads (domain::chain::heads_root), what the signature covers.
    root            BLOB    NOT NULL,
    -- Per customer: 16 bytes id, 8 bytes sequence number, 32 bytes hash.
    heads           BLOB    NOT NULL,
    public_key      BLOB    NOT NULL,
    signature       BLOB    NOT NULL
);
CREATE INDEX ledger_checkpoints_org_created_idx ON ledger_checkpoints (organization_id, created_at);
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN SELECT RAISE(ABORT, 'ledger_checkpoints is append-only'); END;
