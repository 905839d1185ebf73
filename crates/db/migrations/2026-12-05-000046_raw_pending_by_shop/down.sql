DROP INDEX IF EXISTS ix_order_raw_pending_shop;
