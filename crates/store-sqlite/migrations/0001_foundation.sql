-- Foundation: organizations, their members, and the built-in identity provider.
-- Mirrors the PostgreSQL schema with portable types: uuid as text, timestamps as
-- RFC 3339 text in UTC, jsonb as text holding JSON, numeric as text.

CREATE TABLE organizations (
    id                     TEXT    PRIMARY KEY NOT NULL,
    name                   TEXT    NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 255),
    slug                   TEXT    NOT NULL CHECK (length(slug) BETWEEN 2 AND 50 AND slug NOT GLOB '*[^a-z0-9-]*' AND slug NOT LIKE '-%' AND slug NOT LIKE '%-' AND slug NOT LIKE '%--%'),
    authentik_group_prefix TEXT,
    status                 TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('onboarding', 'active', 'suspended')),
    plan                   TEXT    NOT NULL DEFAULT 'basic' CHECK (plan IN ('basic', 'premium')),
    settings               TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(settings)),
    country                TEXT,
    timezone               TEXT    NOT NULL DEFAULT 'UTC',
    language               TEXT    NOT NULL DEFAULT 'en-US',
    currency               TEXT    NOT NULL DEFAULT 'USD',
    contact_name           TEXT,
    contact_email          TEXT,
    contact_phone          TEXT,
    custom_domain          TEXT,
    contract_start         TEXT,
    deployment_type        TEXT    CHECK (deployment_type IS NULL OR deployment_type IN ('multi-tenant', 'single-tenant')),
    users_estimate         INTEGER CHECK (users_estimate IS NULL OR users_estimate >= 0),
    created_at             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at             TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at             TEXT
);
CREATE UNIQUE INDEX organizations_slug_key ON organizations (slug);
CREATE UNIQUE INDEX organizations_custom_domain_key ON organizations (lower(custom_domain)) WHERE custom_domain IS NOT NULL;

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,
    organization_id  TEXT NOT NULL REFERENCES organizations (id),
    identity_subject TEXT,
    role             TEXT NOT NULL CHECK (role IN ('admin', 'cashier', 'customer')),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'suspended')),
    email            TEXT,
    name             TEXT,
    phone            TEXT,
    created_by       TEXT,
    approved_by      TEXT,
    approved_at      TEXT,
    last_seen_at     TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX users_org_subject_key ON users (organization_id, identity_subject);
CREATE INDEX users_org_role_idx ON users (organization_id, role, status);
CREATE INDEX users_org_email_idx ON users (organization_id, lower(email));

CREATE TABLE accounts (
    pk                   INTEGER PRIMARY KEY AUTOINCREMENT,
    uid                  TEXT    NOT NULL,
    username             TEXT    NOT NULL,
    name                 TEXT    NOT NULL,
    email                TEXT,
    is_active            INTEGER NOT NULL DEFAULT 1,
    password_hash        TEXT,
    must_change_password INTEGER NOT NULL DEFAULT 0,
    attributes           TEXT    NOT NULL DEFAULT '{}',
    last_login_at        TEXT,
    created_at           TEXT    NOT NULL,
    updated_at           TEXT    NOT NULL
);
CREATE UNIQUE INDEX accounts_uid_key ON accounts (uid);
CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username));
CREATE INDEX accounts_email_idx ON accounts (lower(email));

CREATE TABLE account_groups (
    pk         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX account_groups_name_key ON account_groups (name);

CREATE TABLE account_group_members (
    group_pk   TEXT    NOT NULL REFERENCES account_groups (pk) ON DELETE CASCADE,
    account_pk INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    PRIMARY KEY (group_pk, account_pk)
);
CREATE INDEX account_group_members_account_idx ON account_group_members (account_pk);

CREATE TABLE account_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_pk INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX account_tokens_account_idx ON account_tokens (account_pk, purpose);

CREATE TABLE sessions (
    token_hash TEXT    PRIMARY KEY NOT NULL,
    account_pk INTEGER NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    csrf_token TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL
);
CREATE INDEX sessions_account_idx ON sessions (account_pk);
