CREATE INDEX IF NOT EXISTS ix_order_processed_tenant_time ON t_ecom_order_processed (tenant_id, order_time DESC);
