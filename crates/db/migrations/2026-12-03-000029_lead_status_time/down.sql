CREATE INDEX IF NOT EXISTS ix_lead_list_status_cover ON t_order_lead (tenant_id, process_status, platform_id)
    INCLUDE (id, order_time, create_time, score, amount_fen, paid_total_fen, last_order_time,
             tag_bits, contact_masked)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_status_time;
