-- Housekeeping of the webhook delivery log: finished deliveries (delivered or given
-- up) are removed after housekeeping.webhook_delivery_days; this index lets the sweep
-- find them without reading the whole table. Pending deliveries are never removed.
CREATE INDEX webhook_deliveries_finished_idx ON webhook_deliveries (COALESCE(delivered_at, failed_at))
    WHERE delivered_at IS NOT NULL OR failed_at IS NOT NULL;
