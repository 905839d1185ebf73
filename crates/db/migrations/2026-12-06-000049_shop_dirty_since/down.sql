ALTER TABLE t_lead_shop_stats DROP COLUMN IF EXISTS dirty_since;
