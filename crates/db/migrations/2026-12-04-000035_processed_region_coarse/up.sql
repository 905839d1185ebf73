-- t_ecom_order_processed.region keeps province and city only (docs/architecture.md): district,
-- town and street (`北京 北京市 朝阳区 三里屯街道`) narrow a buyer down to a neighbourhood and
-- stay in the sealed order (`t_ecom_order_raw.normalized`). Rows written before are cut the same
-- way (`leadgen_domain::Receiver::coarse_region`: the first two space-separated parts).
UPDATE t_ecom_order_processed
   SET region = array_to_string((regexp_split_to_array(btrim(region), '\s+'))[1:2], ' ')
 WHERE array_length(regexp_split_to_array(btrim(region), '\s+'), 1) > 2;
