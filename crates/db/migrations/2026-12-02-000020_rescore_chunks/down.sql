CREATE INDEX ix_lead_rank_group ON t_order_lead (platform_id) WHERE merged_into IS NULL;
DROP INDEX ix_lead_rank_group_id;
