-- Failed sign-ins per account and per address (twin of PostgreSQL's version 4). Keys
-- name an account (`user:<name>`) or an address (`addr:<ip>`): not tenant data.
CREATE TABLE login_throttle (
    key             TEXT    PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL CHECK (failures >= 0),
    window_start    TEXT    NOT NULL,
    last_failure_at TEXT    NOT NULL
);
