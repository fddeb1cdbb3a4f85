-- Housekeeping of the webhook delivery log: finished deliveries (delivered or given
-- up) are removed after housekeeping.webhook_delivery_days; this index lets the sweep
-- find them without reading the whole table. Pending deliveries are never removed.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries ((COALESCE(delivered_at, failed_at)))
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;

-- An erasure (a tenant transaction) takes the customer's personal data out of their
-- queued member.enrolled delivery: the tenant role may update its own deliveries (row
-- level security as for its inserts).
GRANT UPDATE ON webhook_deliveries TO loyalty_tenant;
