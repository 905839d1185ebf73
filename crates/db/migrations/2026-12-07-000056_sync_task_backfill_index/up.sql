-- A shop's backfills, found without reading its whole sync history. The scheduler asks every
-- minute, for every active shop, for its latest backfill (sync-worker `due_for_sync`), and a
-- manual sync whether one ever completed (auth-api `backfill_completed`); the trigger type is
-- in no other index, so each answer read every task the shop ever had: 48 scheduled ones a day.
-- A shop has one backfill per connection, so the index stays small.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_sync_task_backfill
    ON t_ecom_sync_task (platform_id, sync_time DESC)
    WHERE trigger_type = 'BACKFILL';
