-- A sync record's `setAsideCount` and `leadctl syncs list` count, per sync task, the raw orders
-- order-processor set aside (leadgen_db::set_aside): through ix_order_raw_task alone that read
-- every order a backfill stored, on every page of sync records. The set-aside rows are few.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_order_raw_task_malformed
    ON t_ecom_order_raw (sync_task_id) WHERE process_status = 'MALFORMED';
