-- The shop's look on its members' wallet cards, set on the admin panel's settings page:
-- the three colours (`#rrggbb`, all three or none) and the logo (a PNG of at most 256 KiB
-- and 660 x 660 pixels, its size kept beside it). One row per organization, apart from
-- `organizations` so the logo's bytes are read only when a card or the logo is served.
-- Colours an organization already named in its settings (`wallet`) are carried over; a
-- logo given there is not (it is uploaded again on the form).

CREATE TABLE wallet_looks (
    organization_id TEXT    PRIMARY KEY NOT NULL REFERENCES organizations (id),
    background      TEXT    CHECK (background IS NULL OR (length(background) = 7 AND background GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]')),
    foreground      TEXT    CHECK (foreground IS NULL OR (length(foreground) = 7 AND foreground GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]')),
    label           TEXT    CHECK (label IS NULL OR (length(label) = 7 AND label GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]')),
    logo_png        BLOB    CHECK (logo_png IS NULL OR length(logo_png) <= 262144),
    logo_width      INTEGER,
    logo_height     INTEGER,
    updated_at      TEXT    NOT NULL,
    CHECK ((background IS NULL) = (foreground IS NULL) AND (background IS NULL) = (label IS NULL)),
    CHECK ((logo_png IS NULL) = (logo_width IS NULL) AND (logo_png IS NULL) = (logo_height IS NULL))
);

INSERT INTO wallet_looks (organization_id, background, foreground, label, updated_at)
SELECT id, lower(json_extract(settings, '$.wallet.background')), lower(json_extract(settings, '$.wallet.foreground')),
       lower(json_extract(settings, '$.wallet.label')), strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')
FROM organizations
WHERE json_extract(settings, '$.wallet.background') GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'
  AND json_extract(settings, '$.wallet.foreground') GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]'
  AND json_extract(settings, '$.wallet.label') GLOB '#[0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]';

-- Links behind the till's QR code that hand a member their card on their own phone
-- without signing in. Only the SHA-256 of the link's token is kept; a link opens only its
-- own member's card in its own organization, once (`used_at`), until `expires_at`.
CREATE TABLE wallet_links (
    token_hash      TEXT    PRIMARY KEY NOT NULL,
    organization_id TEXT    NOT NULL REFERENCES organizations (id),
    customer_id     TEXT    NOT NULL REFERENCES users (id),
    created_at      TEXT    NOT NULL,
    expires_at      TEXT    NOT NULL,
    used_at         TEXT
);
CREATE INDEX wallet_links_customer_idx ON wallet_links (organization_id, customer_id);
