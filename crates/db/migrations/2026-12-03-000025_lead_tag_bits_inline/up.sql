-- The same bits as migration 12's lead_tag_bits (one per intention tag, in
-- IntentionTag::ALL's order; unknown tags and NULL give none), written as one expression so
-- that PostgreSQL inlines it into the generated column `tag_bits`. The aggregate over unnest
-- ran the SQL-function executor for every lead written (about 2 % of PostgreSQL's CPU in the
-- backlog benchmark). Stored values do not change.
CREATE OR REPLACE FUNCTION lead_tag_bits(tags TEXT[]) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (CASE WHEN '高意向' = ANY(tags) THEN 1 ELSE 0 END)
         | (CASE WHEN '中意向' = ANY(tags) THEN 2 ELSE 0 END)
         | (CASE WHEN '低意向' = ANY(tags) THEN 4 ELSE 0 END)
         | (CASE WHEN '购买过' = ANY(tags) THEN 8 ELSE 0 END)
         | (CASE WHEN '复购' = ANY(tags) THEN 16 ELSE 0 END)
         | (CASE WHEN '未支付' = ANY(tags) THEN 32 ELSE 0 END)
         | (CASE WHEN '退款售后' = ANY(tags) THEN 64 ELSE 0 END)
         | (CASE WHEN '高价值' = ANY(tags) THEN 128 ELSE 0 END)
         | (CASE WHEN '即将复购' = ANY(tags) THEN 256 ELSE 0 END)
         | (CASE WHEN '沉睡' = ANY(tags) THEN 512 ELSE 0 END)
$$;
