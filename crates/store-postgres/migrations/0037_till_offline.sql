-- The till offline (docs/till.md): the installation's secrets, one per purpose, made at
-- random by the store on first use and never shown (not here: a database that
-- `loyalty move` migrates must take the source's secret, not have one of its own); the
-- organization's offline redemption limit; the tills' landed redemptions.
-- 'till-recorder' signs the recorder tokens the till keeps with each purchase it
-- records offline (docs/till.md): two random UUIDs (244 random bits), hex. Not granted
-- to loyalty_tenant: only the server's own connection reads it.
CREATE TABLE installation_secrets (
    purpose text NOT NULL PRIMARY KEY CHECK (length(purpose) BETWEEN 1 AND 100),
    secret  text NOT NULL CHECK (length(secret) >= 64)
);

-- Points a customer may redeem offline per day at a till of the organization, against
-- the balance the till last synced; 0 (the default) refuses redemptions offline.
ALTER TABLE organizations ADD COLUMN offline_redeem_limit bigint NOT NULL DEFAULT 0
    CHECK (offline_redeem_limit BETWEEN 0 AND 1000000000);

-- Redemptions recorded offline that landed, per till and person, beside its purchases.
ALTER TABLE till_devices ADD COLUMN offline_redemptions bigint NOT NULL DEFAULT 0
    CHECK (offline_redemptions >= 0);
