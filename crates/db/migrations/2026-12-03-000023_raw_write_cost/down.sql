ALTER TABLE t_ecom_order_raw ALTER COLUMN normalized SET STORAGE EXTENDED;
ALTER TABLE t_ecom_order_raw ALTER COLUMN raw_data SET STORAGE EXTENDED;
CREATE INDEX IF NOT EXISTS ix_order_raw_tenant_status ON t_ecom_order_raw (tenant_id, process_status, sync_time);
