-- The installation's secrets, one per purpose, made here at random and never shown.
-- 'till-recorder' signs the recorder tokens the till keeps with each purchase it
-- records offline (docs/till.md): two random UUIDs (244 random bits), hex. Not granted
-- to loyalty_tenant: only the server's own connection reads it.
CREATE TABLE installation_secrets (
    purpose text NOT NULL PRIMARY KEY CHECK (length(purpose) BETWEEN 1 AND 100),
    secret  text NOT NULL CHECK (length(secret) >= 64)
);

INSERT INTO installation_secrets (purpose, secret)
VALUES ('till-recorder', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
