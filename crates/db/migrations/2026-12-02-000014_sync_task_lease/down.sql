DROP INDEX ix_sync_task_running_lease;
ALTER TABLE t_ecom_sync_task DROP COLUMN lease_until, DROP COLUMN attempts;
