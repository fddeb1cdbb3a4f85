-- Housekeeping (twin of PostgreSQL's version 9): indexes that let each sweep find rows
-- past their retention without reading the whole table.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX account_tokens_expires_idx ON account_tokens (expires_at);
CREATE INDEX login_throttle_last_failure_idx ON login_throttle (last_failure_at);
CREATE INDEX mail_outbox_finished_idx ON mail_outbox (COALESCE(sent_at, failed_at))
    WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;
