DROP INDEX ix_order_raw_pending;
