DROP INDEX CONCURRENTLY IF EXISTS ix_sync_task_finished_time;
