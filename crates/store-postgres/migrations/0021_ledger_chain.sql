-- The ledger's hash chain (docs/integrity.md). Each entry keeps the SHA-256 that
-- core's domain::chain computes over its content and the customer's previous entry;
-- the customer's row keeps the last one (the head), written under the same row lock
-- as the balance. Entries written before this migration get their hashes once, from
-- `loyalty migrate` (the store's chain backfill, in Rust, so both databases hash the
-- same bytes); the partial index finds them and is empty afterwards.
ALTER TABLE points_transactions
    ADD COLUMN chain_hash bytea CONSTRAINT points_transactions_chain_hash_check
        CHECK (chain_hash IS NULL OR length(chain_hash) = 32);
ALTER TABLE users ADD COLUMN chain_head bytea;
CREATE INDEX points_transactions_unchained_idx ON points_transactions (organization_id, user_id, seq)
    WHERE chain_hash IS NULL;

-- The ledger stays append-only. The one update allowed is the backfill's: filling an
-- empty chain_hash, every other column unchanged.
CREATE OR REPLACE FUNCTION points_transactions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.chain_hash IS NULL AND NEW.chain_hash IS NOT NULL
       AND (to_jsonb(OLD) - 'chain_hash') = (to_jsonb(NEW) - 'chain_hash') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'points_transactions is append-only: append a compensating entry instead';
END $$;
