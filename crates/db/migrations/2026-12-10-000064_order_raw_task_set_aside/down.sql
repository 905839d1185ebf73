DROP INDEX CONCURRENTLY IF EXISTS ix_order_raw_task_malformed;
