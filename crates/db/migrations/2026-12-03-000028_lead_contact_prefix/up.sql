-- A contact keyword of three or more characters, found without a heap visit per match
-- (docs/lead-list.md). `LIKE '%k%'` holds exactly when k starts the mask or occurs in the mask
-- after its first character, so the list asks two disjoint questions:
--   * k starts the mask (`contact_masked LIKE 'k%'`): a btree range of the prefix, covering
--     every sort and filter column, so the matches of a common prefix (`138`: 1 % of a
--     million leads) are an index-only scan of their entries and a top-n sort;
--   * k occurs after the first character (`substr(contact_masked, 2) LIKE '%k%'`): the trigram
--     index, on that part of the mask only. Masks show their head and tail digits
--     (`138****5678`), so a common prefix no longer fills this index's answer: what remains is
--     the tail's matches, about one in five of a prefix's.
-- The statistics on the expression let the planner estimate the second question (without them
-- it guessed 4 % of the leads and scanned a sort index end to end).
-- Replaces ix_lead_list_contact. On a large live table build these with CREATE INDEX
-- CONCURRENTLY by hand first: this migration then finds them by name and skips them.
CREATE INDEX IF NOT EXISTS ix_lead_list_contact_prefix
    ON t_order_lead (tenant_id, contact_masked text_pattern_ops)
    INCLUDE (id, platform_id, process_status, order_time, create_time, score, amount_fen,
             paid_total_fen, last_order_time, tag_bits)
    WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_contact_inner
    ON t_order_lead USING GIN (tenant_id, substr(contact_masked, 2) gin_trgm_ops)
    WHERE merged_into IS NULL;
CREATE STATISTICS IF NOT EXISTS st_lead_contact_inner ON (substr(contact_masked, 2)) FROM t_order_lead;
DROP INDEX IF EXISTS ix_lead_list_contact;
