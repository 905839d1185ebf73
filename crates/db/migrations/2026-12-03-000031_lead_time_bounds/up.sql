-- A time range in another sort's order (docs/lead-list.md, "Time ranges in other orders").
--   * ix_lead_list_time replaces ix_lead_list_order_time and covers every sort column, so a
--     narrow range's matches are read from the index alone and sorted (a week a year ago at
--     page 20: an index scan with 6,000 heap visits before).
--   * ix_lead_order_lag holds each lead's order_time - last_order_time. Its two ends, one
--     descent each, bound last_order_time for every lead whose order_time lies in a range:
--     from start - max lag to end - min lag. The list adds that implied range to a time filter
--     sorted by lastOrderTime, so the sort's index is entered where the matches begin instead
--     of passing every older buyer first (last 30 days by lastOrderTime ascending: 885,000
--     entries passed, 290 ms in psql; with the bound, 2,001 entries, under 1 ms). The bound
--     is computed from the data itself, so it holds whatever the platforms' payment delays.
-- On a large live table build these with CREATE INDEX CONCURRENTLY by hand first: this
-- migration then finds them by name and skips them.
CREATE INDEX IF NOT EXISTS ix_lead_list_time
    ON t_order_lead (tenant_id, order_time, id)
    INCLUDE (platform_id, process_status, create_time, score, amount_fen, paid_total_fen,
             last_order_time, tag_bits, contact_masked)
    WHERE merged_into IS NULL;
DROP INDEX IF EXISTS ix_lead_list_order_time;
CREATE INDEX IF NOT EXISTS ix_lead_order_lag
    ON t_order_lead (tenant_id, (order_time - last_order_time))
    WHERE merged_into IS NULL;
