DROP INDEX IF EXISTS ix_lead_order_lag;
CREATE INDEX IF NOT EXISTS ix_lead_list_order_time ON t_order_lead (tenant_id, order_time, id)
    INCLUDE (platform_id, process_status, tag_bits, contact_masked) WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_time;
