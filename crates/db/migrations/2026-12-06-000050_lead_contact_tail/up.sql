-- A contact keyword after a mask's first character, found without a heap visit per match
-- (docs/lead-list.md, services/lead-api/src/repo/list/keyword.rs). Migration 28 answered it
-- with a trigram index on the rest of every mask, and each candidate cost a heap visit:
-- `138` at a million leads is 2,135 of them, 8–13 ms of a deep page's 15. A mobile's mask
-- (`138****5678`, `*******5678`) holds a digit keyword after its first character only in its
-- four tail digits, so:
--   * masks of that shape: a btree on the tail, covering every sort and filter column, looked
--     up once per tail that can hold the keyword (`138`: `1380`–`1389` and `0138`–`9138`);
--     an index-only scan (`138`: 1,744 entries, under 1 ms);
--   * every other mask (a privacy number with its extension, a landline, `******`, a name):
--     the trigram index, now on those masks alone.
-- Statistics on the tail let the planner estimate its lookups: a partial index's expression
-- gets none of its own, and without them `= ANY` of 20 tails read as 88,000 leads, so that
-- `shop 1+138+PROCESSED+复购` scanned the (status, shop) range instead (80 ms against 8).
-- The shape is written as the same constant in the statements (`keyword::MOBILE_MASK`), which
-- is how the planner matches them to these partial indexes.
-- On a large live table build these with CREATE INDEX CONCURRENTLY by hand first: this
-- migration then finds them by name and skips them.
CREATE INDEX IF NOT EXISTS ix_lead_list_contact_tail
    ON t_order_lead (tenant_id, right(contact_masked, 4))
    INCLUDE (id, contact_masked, platform_id, process_status, order_time, create_time, score,
             amount_fen, paid_total_fen, last_order_time, tag_bits)
    WHERE merged_into IS NULL AND contact_masked ~ '^[0-9*]{3}\*{4}[0-9]{4}$';
CREATE INDEX IF NOT EXISTS ix_lead_list_contact_other
    ON t_order_lead USING GIN (tenant_id, substr(contact_masked, 2) gin_trgm_ops)
    WHERE merged_into IS NULL AND NOT contact_masked ~ '^[0-9*]{3}\*{4}[0-9]{4}$';
CREATE STATISTICS IF NOT EXISTS st_lead_contact_tail ON (right(contact_masked, 4)) FROM t_order_lead;
DROP INDEX IF EXISTS ix_lead_list_contact_inner;
ANALYZE t_order_lead;
