-- A shop is not rescored as settled while it still has raw orders waiting to be processed
-- (order-processor repo::shop_stats::claim): during a backlog the pages' batches can be
-- slower than the settle time, and a rescore then would rewrite every lead of the shop only
-- for the next batches to change them again. Partial, like ix_order_raw_pending: only
-- PENDING rows have entries.
CREATE INDEX IF NOT EXISTS ix_order_raw_pending_shop ON t_ecom_order_raw (platform_id)
    WHERE process_status = 'PENDING';
