-- How often recovery re-sent the request of a task that no run has started since
-- (sync-worker, `services/sync-worker/src/recovery.rs`): the request may wait behind a long
-- queue rather than be lost, so each re-send holds the task longer before the next
-- (lease × 2^resends, capped), instead of adding a duplicate to that queue every lease. A run
-- that starts the task sets it back to 0.
ALTER TABLE t_ecom_sync_task
    ADD COLUMN resends INT NOT NULL DEFAULT 0;
