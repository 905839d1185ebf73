ALTER TABLE t_ecom_sync_task DROP COLUMN resends;
