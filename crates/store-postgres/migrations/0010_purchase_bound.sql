-- The till's sanity checks, per organization: the largest usual purchase (an amount
-- above it asks the cashier for a second confirmation and marks the award's audit
-- record; NULL derives it from the last 90 days' purchases) and the points per customer
-- per day above which the dashboard flags the customer (NULL: the default).
ALTER TABLE organizations
    ADD COLUMN purchase_bound    numeric(12,2) CHECK (purchase_bound > 0),
    ADD COLUMN daily_points_flag bigint CHECK (daily_points_flag > 0);
