-- Failed sign-ins per account and per address, shared by every instance. Keys name an
-- account (`user:<name>`) or an address (`addr:<ip>`): not tenant data, so no
-- organization_id and no row-level security. A row's window restarts on the first
-- failure after it ran out; a successful sign-in deletes the account's row.
CREATE TABLE login_throttle (
    key             text        PRIMARY KEY,
    failures        integer     NOT NULL CHECK (failures >= 0),
    window_start    timestamptz NOT NULL,
    last_failure_at timestamptz NOT NULL
);
