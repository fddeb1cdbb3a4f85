-- The installation's secrets, one per purpose, made here at random and never shown.
-- 'till-recorder' signs the recorder tokens the till keeps with each purchase it
-- records offline (docs/till.md): 32 random bytes, hex.
CREATE TABLE installation_secrets (
    purpose TEXT NOT NULL PRIMARY KEY CHECK (length(purpose) BETWEEN 1 AND 100),
    secret  TEXT NOT NULL CHECK (length(secret) >= 64)
);

INSERT INTO installation_secrets (purpose, secret)
VALUES ('till-recorder', lower(hex(randomblob(32))));
