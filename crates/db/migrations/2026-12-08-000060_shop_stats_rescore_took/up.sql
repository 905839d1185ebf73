-- How long the shop's last rescore took. A shop whose leads keep changing (a long backfill) is
-- rescored at the latest every `rescore_max_wait_secs`, or ten times this, whichever is longer:
-- a shop of a million leads whose rescore takes minutes was otherwise rescored again and again
-- while its backfill ran. NULL: never rescored since this column existed (the setting alone).
ALTER TABLE t_lead_shop_stats ADD COLUMN IF NOT EXISTS rescore_took_ms BIGINT;
