-- The post-handoff checklist of each organization (twin of PostgreSQL's version 7):
-- one row per ticked item. An item without a row is not done.
CREATE TABLE org_checklist (
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    item            TEXT NOT NULL CHECK (length(item) BETWEEN 1 AND 50 AND item NOT GLOB '*[^a-z0-9-]*'),
    done_at         TEXT NOT NULL,
    done_by         TEXT NOT NULL CHECK (length(done_by) BETWEEN 1 AND 200),
    note            TEXT CHECK (length(note) <= 2000),
    PRIMARY KEY (organization_id, item)
);
