CREATE INDEX IF NOT EXISTS ix_lead_list_status ON t_order_lead (tenant_id, process_status, platform_id)
    INCLUDE (order_time, tag_bits, contact_masked)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_status_cover;
DROP INDEX IF EXISTS ix_lead_list_tags;
