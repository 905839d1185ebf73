ALTER TABLE t_lead_shop_stats DROP COLUMN IF EXISTS rescore_took_ms;
