-- Sessions of people signed in through OpenID Connect (twin of PostgreSQL's version 5):
-- account_pk becomes nullable, so the table is rebuilt.
CREATE TABLE sessions_new (
    token_hash       TEXT    PRIMARY KEY NOT NULL,
    account_pk       INTEGER REFERENCES accounts (pk) ON DELETE CASCADE,
    csrf_token       TEXT    NOT NULL,
    created_at       TEXT    NOT NULL,
    expires_at       TEXT    NOT NULL,
    subject          TEXT,
    subject_username TEXT,
    subject_name     TEXT,
    subject_email    TEXT,
    subject_groups   TEXT,
    CHECK ((account_pk IS NULL) <> (subject IS NULL))
);
INSERT INTO sessions_new (token_hash, account_pk, csrf_token, created_at, expires_at)
    SELECT token_hash, account_pk, csrf_token, created_at, expires_at FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_account_idx ON sessions (account_pk);

CREATE TABLE login_flows (
    key_hash      TEXT PRIMARY KEY NOT NULL,
    state         TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);
CREATE INDEX login_flows_expires_idx ON login_flows (expires_at);
