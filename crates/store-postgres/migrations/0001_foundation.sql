-- Foundation: organizations, their members, and the built-in identity provider.
-- Names and types follow the runbook's companion schema so operators' SQL keeps working
-- (runbook step 2.1 inserts into organizations with gen_random_uuid()).

CREATE TABLE organizations (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name                   text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 255),
    slug                   text        NOT NULL CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' AND length(slug) BETWEEN 2 AND 50),
    authentik_group_prefix text        CHECK (authentik_group_prefix IS NULL OR authentik_group_prefix ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
    status                 text        NOT NULL DEFAULT 'active' CHECK (status IN ('onboarding', 'active', 'suspended')),
    plan                   text        NOT NULL DEFAULT 'basic' CHECK (plan IN ('basic', 'premium')),
    settings               jsonb       NOT NULL DEFAULT '{}'::jsonb,
    country                text        CHECK (country IS NULL OR country ~ '^[A-Z]{2}$'),
    timezone               text        NOT NULL DEFAULT 'UTC',
    language               text        NOT NULL DEFAULT 'en-US',
    currency               text        NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    contact_name           text,
    contact_email          text,
    contact_phone          text,
    custom_domain          text,
    contract_start         date,
    deployment_type        text        CHECK (deployment_type IS NULL OR deployment_type IN ('multi-tenant', 'single-tenant')),
    users_estimate         integer     CHECK (users_estimate IS NULL OR users_estimate >= 0),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    deleted_at             timestamptz,
    CONSTRAINT organizations_slug_key UNIQUE (slug)
);
CREATE UNIQUE INDEX organizations_custom_domain_key ON organizations (lower(custom_domain)) WHERE custom_domain IS NOT NULL;

-- One row per person per organization. Every index starts with organization_id.
CREATE TABLE users (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id  uuid        NOT NULL REFERENCES organizations (id),
    identity_subject text,
    role             text        NOT NULL CHECK (role IN ('admin', 'cashier', 'customer')),
    status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'pending', 'suspended')),
    email            text,
    name             text,
    phone            text,
    created_by       uuid,
    approved_by      uuid,
    approved_at      timestamptz,
    last_seen_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_org_subject_key UNIQUE (organization_id, identity_subject)
);
CREATE INDEX users_org_role_idx ON users (organization_id, role, status);
CREATE INDEX users_org_email_idx ON users (organization_id, lower(email));

-- The built-in identity provider (identity = "builtin"). Shaped like Authentik's
-- directory: integer user pk, hex uid as subject, UUID group pk.
CREATE TABLE accounts (
    pk                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uid                  text        NOT NULL,
    username             text        NOT NULL,
    name                 text        NOT NULL,
    email                text,
    is_active            boolean     NOT NULL DEFAULT true,
    password_hash        text,
    must_change_password boolean     NOT NULL DEFAULT false,
    attributes           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    last_login_at        timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT accounts_uid_key UNIQUE (uid)
);
CREATE UNIQUE INDEX accounts_username_key ON accounts (lower(username));
CREATE INDEX accounts_email_idx ON accounts (lower(email));

CREATE TABLE account_groups (
    pk         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text        NOT NULL,
    attributes jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT account_groups_name_key UNIQUE (name)
);

CREATE TABLE account_group_members (
    group_pk   uuid   NOT NULL REFERENCES account_groups (pk) ON DELETE CASCADE,
    account_pk bigint NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    PRIMARY KEY (group_pk, account_pk)
);
CREATE INDEX account_group_members_account_idx ON account_group_members (account_pk);

-- One-time tokens (password-set links); only SHA-256 hashes are stored.
CREATE TABLE account_tokens (
    token_hash text        PRIMARY KEY,
    account_pk bigint      NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    purpose    text        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX account_tokens_account_idx ON account_tokens (account_pk, purpose);

-- Sign-in sessions of built-in accounts; the cookie holds a random token, only its
-- SHA-256 hash is stored. Kept in the database so any instance can serve any request.
CREATE TABLE sessions (
    token_hash   text        PRIMARY KEY,
    account_pk   bigint      NOT NULL REFERENCES accounts (pk) ON DELETE CASCADE,
    csrf_token   text        NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_account_idx ON sessions (account_pk);
