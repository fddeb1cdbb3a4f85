-- Row-level security exists on PostgreSQL only (version 3 there). SQLite serves one
-- installation from one file and has no roles; tenant isolation here rests on every
-- query filtering by organization_id, which the shared behaviour suite checks.
SELECT 1;
