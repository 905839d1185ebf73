-- A running sync task carries a lease that its worker renews with every page. An expired lease
-- (a worker killed, a request lost) is resumed by sync-worker's recovery, or failed with a reason
-- after `attempts` runs. Owner: sync-worker.
ALTER TABLE t_ecom_sync_task
    ADD COLUMN lease_until TIMESTAMPTZ,
    ADD COLUMN attempts    INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS ix_sync_task_running_lease ON t_ecom_sync_task (lease_until) WHERE status = 'RUNNING';
