-- Filters that the sort's order does not help with (docs/lead-list.md), at a million leads.
-- On a large live table build these with CREATE INDEX CONCURRENTLY by hand first (and drop
-- ix_lead_list_status CONCURRENTLY after): this migration then finds them by name and skips them.
--
-- * Tags. One ordered scan per combination of tags (tenant, tag_bits, order time): a tag filter
--   in order-time order merges the scans of the combinations that contain the asked tags, so
--   tags correlated with time (沉睡 sits at the old end) no longer mean passing every recent
--   buyer first. Every sort column and filter column is included, so for any other sort the
--   matches of a selective tag are an index-only scan and a top-n sort.
CREATE INDEX IF NOT EXISTS ix_lead_list_tags ON t_order_lead (tenant_id, tag_bits, order_time, id)
    INCLUDE (platform_id, process_status, create_time, score, amount_fen, paid_total_fen,
             last_order_time, contact_masked)
    WHERE merged_into IS NULL;

-- * Status and shop. The same covering columns, so a rare status in a shop (INVALID in shop 2,
--   deep in the browsing window) is an index-only scan of its matches and a top-n sort instead
--   of a scan of the sort's index through every other lead. Replaces ix_lead_list_status.
CREATE INDEX IF NOT EXISTS ix_lead_list_status_cover ON t_order_lead (tenant_id, process_status, platform_id)
    INCLUDE (id, order_time, create_time, score, amount_fen, paid_total_fen, last_order_time,
             tag_bits, contact_masked)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_status;
