-- Signed checkpoints of the ledger's hash chain (docs/integrity.md): the chain heads of
-- one organization's customers at one moment, signed with the installation's Ed25519
-- key. Append-only, like the ledger: a checkpoint is evidence.
CREATE TABLE ledger_checkpoints (
    id              uuid        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    created_at      timestamptz NOT NULL,
    customers       bigint      NOT NULL,
    entries         bigint      NOT NULL,
    -- SHA-256 over the heads (domain::chain::heads_root), what the signature covers.
    root            bytea       NOT NULL,
    -- Per customer: 16 bytes id, 8 bytes sequence number, 32 bytes hash.
    heads           bytea       NOT NULL,
    public_key      bytea       NOT NULL,
    signature       bytea       NOT NULL
);
CREATE INDEX ledger_checkpoints_org_created_idx ON ledger_checkpoints (organization_id, created_at);

CREATE FUNCTION ledger_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger_checkpoints is append-only';
END $$;
CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_checkpoints_append_only();

GRANT SELECT, INSERT ON ledger_checkpoints TO loyalty_tenant;
ALTER TABLE ledger_checkpoints ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ledger_checkpoints TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
