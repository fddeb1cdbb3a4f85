-- Sessions of people signed in through OpenID Connect: no built-in account, a snapshot
-- of the subject (name, email, groups as a JSON array) instead. Exactly one owner.
ALTER TABLE sessions ALTER COLUMN account_pk DROP NOT NULL;
ALTER TABLE sessions
    ADD COLUMN subject          text,
    ADD COLUMN subject_username text,
    ADD COLUMN subject_name     text,
    ADD COLUMN subject_email    text,
    ADD COLUMN subject_groups   text,
    ADD CONSTRAINT sessions_one_owner CHECK ((account_pk IS NULL) <> (subject IS NULL));

-- Starting OpenID Connect sign-ins: state, nonce and PKCE verifier kept server-side,
-- keyed by the hash of a random value in a short-lived cookie; consumed once.
CREATE TABLE login_flows (
    key_hash      text        PRIMARY KEY,
    state         text        NOT NULL,
    nonce         text        NOT NULL,
    pkce_verifier text        NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX login_flows_expires_idx ON login_flows (expires_at);
