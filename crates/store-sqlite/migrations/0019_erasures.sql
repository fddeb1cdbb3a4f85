-- The erasure log: which customer of which organization was erased, and when. It holds
-- no personal data. A restore of a backup reads the log of the database it replaces
-- and erases those customers again in the restored one, so a restore never brings
-- erased data back (docs/privacy.md).
CREATE TABLE erasures (
    id              TEXT PRIMARY KEY NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    customer_id     TEXT NOT NULL REFERENCES users (id),
    erased_at       TEXT NOT NULL,
    actor_role      TEXT NOT NULL CHECK (length(actor_role) BETWEEN 1 AND 50)
);
CREATE UNIQUE INDEX erasures_org_customer_key ON erasures (organization_id, customer_id);
