-- Status and shop, by score (docs/lead-list.md): a salesperson's own view, "my shop's pending
-- leads, best first". Each (status, shop) pair is one range in score order, so a shop or a
-- status by score is a lazy merge of a few ranges, as ix_lead_list_status_time serves them in
-- order time. `every filter` (shop, PENDING, a year, a tag and a short keyword, by score)
-- passed 64,000–80,000 entries of the score index for its 2,001; in its pair's range, about a
-- third of that. Covers the filter columns only: other sorts of a rare status in a shop use
-- ix_lead_list_status_time. On a large live table build it with CREATE INDEX CONCURRENTLY by
-- hand first: this migration then finds it by name and skips it.
CREATE INDEX IF NOT EXISTS ix_lead_list_status_score
    ON t_order_lead (tenant_id, process_status, platform_id, score, id)
    INCLUDE (order_time, tag_bits, contact_masked)
    WHERE merged_into IS NULL;
