UPDATE t_ecom_sync_task SET trigger_type = 'MANUAL' WHERE trigger_type = 'BACKFILL';
ALTER TABLE t_ecom_sync_task DROP CONSTRAINT t_ecom_sync_task_trigger_type_check;
ALTER TABLE t_ecom_sync_task ADD CONSTRAINT t_ecom_sync_task_trigger_type_check
    CHECK (trigger_type IN ('MANUAL', 'SCHEDULED'));
ALTER TABLE t_ecom_sync_task
    DROP COLUMN windows_total, DROP COLUMN windows_done, DROP COLUMN new_count,
    DROP COLUMN updated_count, DROP COLUMN unchanged_count, DROP COLUMN served_from,
    DROP COLUMN warning;
