-- Status and shop, in order time (docs/lead-list.md). The status index's key gains the order
-- time, so each (status, shop) pair is one ordered range: a shop's or a status's leads in the
-- list's default order are a lazy merge of a few such ranges (three statuses for a shop, the
-- shops present for a status) instead of a scan of the time index through every other lead
-- (`platformId=5`, 5 % of the leads, at page 20: 40,000 entries → 2,000). The covered columns
-- are the same, so a rare status in a shop in any other sort is still an index-only scan of its
-- matches and a top-n sort. Replaces ix_lead_list_status_cover, at no extra write: the order
-- time is in other indexes' keys already, so no update of it was ever HOT. On a large live
-- table build it with CREATE INDEX CONCURRENTLY by hand first (and drop the old one
-- CONCURRENTLY after): this migration then finds it by name and skips it.
CREATE INDEX IF NOT EXISTS ix_lead_list_status_time
    ON t_order_lead (tenant_id, process_status, platform_id, order_time, id)
    INCLUDE (create_time, score, amount_fen, paid_total_fen, last_order_time, tag_bits,
             contact_masked)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_status_cover;
