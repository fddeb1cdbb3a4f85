-- The active-users gauge (`loyalty_active_users`) counts, on every scrape, the members
-- who signed in since a moment: an index on the sign-in time keeps that a range scan
-- instead of a read of every row of `users`. Only people who ever signed in have a
-- time, so the index leaves the (many) customers enrolled at the till out.
CREATE INDEX users_last_seen_idx ON users (last_seen_at) WHERE last_seen_at IS NOT NULL;
