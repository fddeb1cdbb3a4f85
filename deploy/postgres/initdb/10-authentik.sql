-- Runs once, when the PostgreSQL volume is first created: the identity provider's
-- database next to loyalty_db (POSTGRES_DB), as in the runbook's shared portfolio-postgres.
CREATE DATABASE authentik;
