-- The shop's look on its members' wallet cards, set on the admin panel's settings page:
-- the three colours (`#rrggbb`, all three or none) and the logo (a PNG of at most 256 KiB
-- and 660 x 660 pixels, its size kept beside it). One row per organization, apart from
-- `organizations` so the logo's bytes are read only when a card or the logo is served.
-- Colours an organization already named in its settings (`wallet`) are carried over; a
-- logo given there is not (it is uploaded again on the form).

CREATE TABLE wallet_looks (
    organization_id uuid        PRIMARY KEY REFERENCES organizations (id),
    background      text        CHECK (background ~ '^#[0-9a-f]{6}$'),
    foreground      text        CHECK (foreground ~ '^#[0-9a-f]{6}$'),
    label           text        CHECK (label ~ '^#[0-9a-f]{6}$'),
    logo_png        bytea       CHECK (octet_length(logo_png) <= 262144),
    logo_width      integer,
    logo_height     integer,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT wallet_looks_colours CHECK ((background IS NULL) = (foreground IS NULL) AND (background IS NULL) = (label IS NULL)),
    CONSTRAINT wallet_looks_logo CHECK ((logo_png IS NULL) = (logo_width IS NULL) AND (logo_png IS NULL) = (logo_height IS NULL))
);

INSERT INTO wallet_looks (organization_id, background, foreground, label, updated_at)
SELECT id, lower(settings #>> '{wallet,background}'), lower(settings #>> '{wallet,foreground}'),
       lower(settings #>> '{wallet,label}'), now()
FROM organizations
WHERE settings #>> '{wallet,background}' ~ '^#[0-9a-fA-F]{6}$'
  AND settings #>> '{wallet,foreground}' ~ '^#[0-9a-fA-F]{6}$'
  AND settings #>> '{wallet,label}' ~ '^#[0-9a-fA-F]{6}$';

GRANT SELECT, INSERT, UPDATE ON wallet_looks TO loyalty_tenant;
ALTER TABLE wallet_looks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_looks TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);

-- Links behind the till's QR code that hand a member their card on their own phone
-- without signing in. Only the SHA-256 of the link's token is kept; a link opens only its
-- own member's card in its own organization, once (`used_at`), until `expires_at`.
CREATE TABLE wallet_links (
    token_hash      text        PRIMARY KEY,
    organization_id uuid        NOT NULL REFERENCES organizations (id),
    customer_id     uuid        NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);
CREATE INDEX wallet_links_customer_idx ON wallet_links (organization_id, customer_id);

GRANT SELECT, INSERT, UPDATE, DELETE ON wallet_links TO loyalty_tenant;
ALTER TABLE wallet_links ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON wallet_links TO loyalty_tenant
    USING (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid)
    WITH CHECK (organization_id = NULLIF(current_setting('loyalty.org_id', true), '')::uuid);
