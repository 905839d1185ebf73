CREATE INDEX IF NOT EXISTS ix_lead_list_contact_inner
    ON t_order_lead USING GIN (tenant_id, substr(contact_masked, 2) gin_trgm_ops)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_contact_other;
DROP INDEX IF EXISTS ix_lead_list_contact_tail;
DROP STATISTICS IF EXISTS st_lead_contact_tail;
