-- Since when a shop has changes no rescore has taken in: `[processing] rescore_max_wait_secs`
-- counts from it ("at least every max_wait while its leads keep changing"). The claim counted
-- from the last rescore instead, so the first change after a quiet spell longer than max_wait
-- (every scheduled sync of an established shop, and a new shop's first batch, whose
-- `rescored_at` is NULL) started a rescore at once, while the rest of the sync's batches were
-- still coming: the shop was rescored twice, the first time alongside its batches, waiting on
-- their lead locks and making them wait on its own.
ALTER TABLE t_lead_shop_stats ADD COLUMN dirty_since TIMESTAMPTZ;
UPDATE t_lead_shop_stats SET dirty_since = dirty_at WHERE dirty_seq > rescored_seq;
