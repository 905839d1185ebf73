CREATE OR REPLACE FUNCTION lead_tag_bits(tags TEXT[]) RETURNS INTEGER
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(bit_or(1 << (p - 1)), 0)::INTEGER
    FROM unnest(tags) AS t,
         array_position(ARRAY['高意向', '中意向', '低意向', '购买过', '复购', '未支付', '退款售后',
                              '高价值', '即将复购', '沉睡'], t) AS p
    WHERE p IS NOT NULL
$$;
