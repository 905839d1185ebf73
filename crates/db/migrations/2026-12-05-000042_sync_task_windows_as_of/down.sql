ALTER TABLE t_ecom_sync_task DROP COLUMN windows_as_of;
