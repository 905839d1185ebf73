-- The lead list at a million leads per tenant (services/lead-api/benches/list.rs measures it).
-- Every list query is `tenant_id = ? AND merged_into IS NULL`, sorted by one of six columns with
-- `id` as the tie-break, filtered by platform, status, tags, order time and contact keyword.
--   * One covering index per sort: the filters' columns ride along (INCLUDE), so a page and the
--     bounded total are index-only scans; rows are fetched for the page only (a deferred join).
--   * Tags ride along as `tag_bits`, one bit per tag (leadgen_domain::IntentionTag::bit, in
--     IntentionTag::ALL's order), so a tag filter is an integer test, not an array comparison.
--   * Status (and platform) lead one index, for filtered totals.
--   * A selective contact keyword uses a tenant-scoped trigram index (btree_gin, pg_trgm: both
--     trusted extensions that a database owner may create).
-- On a large live table build these with CREATE INDEX CONCURRENTLY by hand first: this
-- migration then finds them by name and skips them.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE FUNCTION lead_tag_bits(tags TEXT[]) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(bit_or(1 << (p - 1)), 0)::INTEGER
    FROM unnest(tags) AS t,
         array_position(ARRAY['高意向', '中意向', '低意向', '购买过', '复购', '未支付', '退款售后',
                              '高价值', '即将复购', '沉睡'], t) AS p
    WHERE p IS NOT NULL
$$;
ALTER TABLE t_order_lead ADD COLUMN tag_bits INTEGER GENERATED ALWAYS AS (lead_tag_bits(intention_tags)) STORED;

DROP INDEX IF EXISTS ix_lead_tenant_order_time;
DROP INDEX IF EXISTS ix_lead_tenant_create_time;
DROP INDEX IF EXISTS ix_lead_tenant_platform;
DROP INDEX IF EXISTS ix_lead_tenant_status;
DROP INDEX IF EXISTS ix_lead_tenant_score;
DROP INDEX IF EXISTS ix_lead_tenant_total;
DROP INDEX IF EXISTS ix_lead_tags;

CREATE INDEX IF NOT EXISTS ix_lead_list_order_time ON t_order_lead (tenant_id, order_time, id)
    INCLUDE (platform_id, process_status, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_create_time ON t_order_lead (tenant_id, create_time, id)
    INCLUDE (platform_id, process_status, order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_score ON t_order_lead (tenant_id, score, id)
    INCLUDE (platform_id, process_status, order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_amount ON t_order_lead (tenant_id, amount_fen, id)
    INCLUDE (platform_id, process_status, order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_total ON t_order_lead (tenant_id, paid_total_fen, id)
    INCLUDE (platform_id, process_status, order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_last_order ON t_order_lead (tenant_id, last_order_time, id)
    INCLUDE (platform_id, process_status, order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_status ON t_order_lead (tenant_id, process_status, platform_id)
    INCLUDE (order_time, tag_bits, contact_masked) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_list_contact ON t_order_lead USING GIN (tenant_id, contact_masked gin_trgm_ops)
    WHERE merged_into IS NULL;
