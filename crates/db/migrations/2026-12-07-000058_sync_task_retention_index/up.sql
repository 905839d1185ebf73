-- Sync records past their retention, found by age (order-processor's housekeeping, hourly):
-- without it, a pass with nothing to delete read the whole table. Backfills are kept (a shop's
-- one per connection says its history was fetched) and running tasks are not finished.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_sync_task_finished_time
    ON t_ecom_sync_task (sync_time)
    WHERE trigger_type <> 'BACKFILL' AND status <> 'RUNNING';
