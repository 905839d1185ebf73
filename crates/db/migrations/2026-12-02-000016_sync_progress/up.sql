-- Sync progress and what a sync changed (issue 12 point 2). Owner: sync-worker.
--   * windows_total / windows_done: the task's windows and how many are fully stored; a task
--     restarted after its worker died resumes after the last stored window.
--   * new_count / updated_count / unchanged_count: distinct orders first seen, changed since
--     they were stored, and fetched again unchanged (success_count keeps the design's meaning:
--     every distinct order stored or confirmed; failure_count the unreadable ones).
--   * served_from / warning: where a platform's documented history limit clipped the requested
--     range, the part it served, and a warning for the merchant (the task is not a plain success).
--   * trigger BACKFILL: the first sync when a shop becomes ACTIVE.
ALTER TABLE t_ecom_sync_task
    ADD COLUMN windows_total   INTEGER,
    ADD COLUMN windows_done    INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN new_count       INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN updated_count   INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN unchanged_count INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN served_from     TIMESTAMPTZ,
    ADD COLUMN warning         TEXT;
ALTER TABLE t_ecom_sync_task DROP CONSTRAINT t_ecom_sync_task_trigger_type_check;
ALTER TABLE t_ecom_sync_task ADD CONSTRAINT t_ecom_sync_task_trigger_type_check
    CHECK (trigger_type IN ('MANUAL', 'SCHEDULED', 'BACKFILL'));
