-- The ledger's hash chain (docs/integrity.md). Each entry keeps the SHA-256 that
-- core's domain::chain computes over its content and the customer's previous entry;
-- the customer's row keeps the last one (the head), written under the same write
-- transaction as the balance. Entries written before this migration get their hashes
-- once, from `loyalty migrate` (the store's chain backfill, in Rust: SQLite has no
-- SHA-256); the partial index finds them and is empty afterwards.
ALTER TABLE points_transactions ADD COLUMN chain_hash BLOB
    CHECK (chain_hash IS NULL OR length(chain_hash) = 32);
ALTER TABLE users ADD COLUMN chain_head BLOB;
CREATE INDEX points_transactions_unchained_idx ON points_transactions (organization_id, user_id, seq)
    WHERE chain_hash IS NULL;

-- The ledger stays append-only. The one update allowed is the backfill's: filling an
-- empty chain_hash, every other column unchanged.
DROP TRIGGER points_transactions_no_update;
CREATE TRIGGER points_transactions_no_update BEFORE UPDATE ON points_transactions
WHEN NOT (OLD.chain_hash IS NULL AND NEW.chain_hash IS NOT NULL
          AND NEW.id IS OLD.id AND NEW.organization_id IS OLD.organization_id AND NEW.user_id IS OLD.user_id
          AND NEW.points IS OLD.points AND NEW.transaction_type IS OLD.transaction_type
          AND NEW.reference_id IS OLD.reference_id AND NEW.reference_type IS OLD.reference_type
          AND NEW.balance_after IS OLD.balance_after AND NEW.notes IS OLD.notes
          AND NEW.created_by IS OLD.created_by AND NEW.idempotency_key IS OLD.idempotency_key
          AND NEW.seq IS OLD.seq AND NEW.created_at IS OLD.created_at)
BEGIN SELECT RAISE(ABORT, 'points_transactions is append-only: append a compensating entry instead'); END;
