DROP INDEX ix_lead_list_tags;
DROP INDEX ix_lead_list_status;
CREATE INDEX ix_lead_list_status ON t_order_lead (tenant_id, process_status, platform_id)
    INCLUDE (order_time, tag_bits, contact_masked)
    WHERE merged_into IS NULL;
