CREATE INDEX IF NOT EXISTS ix_lead_list_contact ON t_order_lead USING GIN (tenant_id, contact_masked gin_trgm_ops)
    WHERE merged_into IS NULL;
DROP STATISTICS IF EXISTS st_lead_contact_inner;
DROP INDEX IF EXISTS ix_lead_list_contact_inner;
DROP INDEX IF EXISTS ix_lead_list_contact_prefix;
