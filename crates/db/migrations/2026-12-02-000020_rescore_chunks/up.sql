-- The shop rescore reads a shop's live leads in id-ordered chunks (keyset on id), so that its
-- memory stays bounded whatever the shop's size; this index serves both the chunks and the
-- features pass (which reads every live lead of the shop).
CREATE INDEX IF NOT EXISTS ix_lead_rank_group_id ON t_order_lead (platform_id, id) WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_rank_group;
