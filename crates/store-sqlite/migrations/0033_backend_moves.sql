-- Progress of `loyalty move` into this database: one row per copied table, written in
-- the same transaction as each batch of rows, so a move that stops half-way resumes
-- after the last key it committed and never copies a row twice. `source` names the
-- database the rows come from (URL without password); `last_key` is the JSON array of
-- the primary key of the last row copied, NULL before the first batch.
CREATE TABLE backend_moves (
    table_name  TEXT    PRIMARY KEY NOT NULL,
    source      TEXT    NOT NULL,
    last_key    TEXT,
    rows_copied INTEGER NOT NULL DEFAULT 0 CHECK (rows_copied >= 0),
    started_at  TEXT    NOT NULL,
    finished_at TEXT
);
