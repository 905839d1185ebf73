-- The lead-list benchmark's data: 1,000,000 buyer-leads for tenant 1 over five shops, and
-- 20,000 for each of tenants 2..11. Deterministic (setseed). Distributions:
--   * orders per buyer: 1 + Exp(0.8), so about 55 % bought once and a long tail bought often;
--   * last purchase: up to three years back, denser near now (u^1.6);
--   * order amount: log-normal around 73 yuan (sigma 0.9); paid total = amount x paid orders;
--   * 8 % have an unpaid order, 6 % a refund; 1 % of tenant 1's leads are merged away;
--   * process status: 75 % PENDING, 20 % PROCESSED, 5 % INVALID;
--   * contacts: 60 % `138****5678`, 30 % `*******5678`, 10 % `******`;
--   * a third of tenant 1's buyers have a phone identity (a blind index) in t_lead_identity.
-- Leads point at raw and processed orders that this benchmark does not need: the session runs
-- with session_replication_role = replica, so those foreign keys are not checked.
SET session_replication_role = replica;
SELECT setseed(0.42);

INSERT INTO t_ecom_platform_auth (id, tenant_id, platform_type, app_key, auth_info, status, callback_url, created_by)
SELECT s, CASE WHEN s <= 5 THEN 1 ELSE s - 4 END,
       (ARRAY['TAOBAO', 'PDD', 'DOUYIN', 'JD', 'KUAISHOU'])[1 + (s - 1) % 5],
       'bench', 'sealed', 'ACTIVE', 'https://example.invalid/callback', 1
FROM generate_series(1, 15) s;

CREATE TEMP TABLE bench_buyer AS
SELECT g,
       CASE WHEN g <= 1000000 THEN 1 ELSE 2 + (g - 1000001) / 20000 END AS tenant,
       CASE WHEN g > 1000000 THEN 6 + (g - 1000001) / 20000
            WHEN u_shop < 0.40 THEN 1 WHEN u_shop < 0.65 THEN 2 WHEN u_shop < 0.85 THEN 3
            WHEN u_shop < 0.95 THEN 4 ELSE 5 END AS shop,
       least(60, 1 + floor(-ln(1 - u_count) / 0.8))::int AS order_count,
       now() - make_interval(secs => 1095 * 86400 * power(u_recency, 1.6)) AS last_order,
       20 + 120 * u_gap AS gap_days,
       greatest(100, exp(8.9 + 0.9 * sqrt(-2 * ln(1 - u_amount)) * cos(2 * pi() * u_amount2)))::bigint AS amount_fen,
       u_unpaid < 0.08 AS unpaid,
       u_refund < 0.06 AS refunded,
       u_status, u_contact, u_due, digits
FROM (SELECT g, random() AS u_shop, random() AS u_count, random() AS u_recency, random() AS u_gap,
             random() AS u_amount, random() AS u_amount2, random() AS u_unpaid, random() AS u_refund,
             random() AS u_status, random() AS u_contact, random() AS u_due,
             lpad((floor(random() * 10000))::int::text, 4, '0') AS digits
      FROM generate_series(1, 1200000) g) r;

CREATE TEMP TABLE bench_lead AS
SELECT b.*,
       greatest(0, b.order_count - b.unpaid::int) AS paid_count,
       extract(epoch FROM now() - b.last_order) / 86400 AS days_since,
       b.last_order - make_interval(days => (b.gap_days * (b.order_count - 1))::int) AS first_order
FROM bench_buyer b;

CREATE TEMP TABLE bench_scored AS
SELECT l.*,
       greatest(0, least(100, round(100 * (0.45 * least(1, (l.order_count - 1) / 5.0)
                                           + 0.25 * (1 - l.days_since / 1095)
                                           + 0.15 * least(1, l.amount_fen / 30000.0)
                                           + 0.15 * l.u_due)
                                    - 15 * l.refunded::int + 5 * l.unpaid::int)))::int AS intention,
       CASE WHEN l.u_contact < 0.6 THEN 1.0 WHEN l.u_contact < 0.9 THEN 0.6 ELSE 0.3 END AS reach
FROM bench_lead l;

INSERT INTO t_order_lead (
    id, tenant_id, platform_id, platform_type, order_id, raw_order_id, processed_order_id,
    contact_info, contact_masked, contact_kind, product_info, amount_fen, order_time,
    intention_tags, score, process_status, create_time, update_time, order_count,
    paid_order_count, paid_total_fen, last_order_time, aggregate, intention, score_reasons,
    model_version, scored_by, contact_validity, contact_validity_reason, merged_into, version)
SELECT s.g, s.tenant, s.shop, p.platform_type, 'B' || (4000000000000 + s.g), s.g, s.g,
       'sealed', 
       CASE WHEN s.u_contact < 0.6 THEN '1' || (3 + s.g % 7) || (s.g % 10) || '****' || s.digits
            WHEN s.u_contact < 0.9 THEN '*******' || s.digits ELSE '******' END,
       CASE WHEN s.u_contact < 0.9 THEN 'MASKED' ELSE 'OPEN_ID' END, '连衣裙 夏季新款 x1', s.amount_fen, s.last_order,
       array_remove(ARRAY[
           CASE WHEN s.intention >= 70 THEN '高意向' WHEN s.intention >= 40 THEN '中意向' ELSE '低意向' END,
           CASE WHEN s.paid_count > 0 THEN '购买过' END,
           CASE WHEN s.paid_count >= 2 THEN '复购' END,
           CASE WHEN s.unpaid THEN '未支付' END,
           CASE WHEN s.refunded THEN '退款售后' END,
           CASE WHEN s.amount_fen * s.paid_count > 60000 THEN '高价值' END,
           CASE WHEN s.order_count >= 2 AND s.days_since BETWEEN s.gap_days * 0.8 AND s.gap_days * 1.2 THEN '即将复购' END,
           CASE WHEN s.order_count >= 2 AND s.days_since > 180 THEN '沉睡' END], NULL),
       round(0.8 * s.intention + 20 * s.reach)::smallint,
       CASE WHEN s.u_status < 0.75 THEN 'PENDING' WHEN s.u_status < 0.95 THEN 'PROCESSED' ELSE 'INVALID' END,
       s.first_order + interval '5 minutes', s.last_order + interval '5 minutes',
       s.order_count, s.paid_count, s.amount_fen * s.paid_count, s.last_order,
       jsonb_build_object('orders', s.order_count, 'paidOrders', s.paid_count,
                          'meanGapDays', round(s.gap_days::numeric, 1)),
       s.intention,
       jsonb_build_array(
           jsonb_build_object('code', 'REPEAT_' || s.order_count, 'text', '复购' || s.order_count || '次'),
           jsonb_build_object('code', 'RECENT', 'text', '最近' || round(s.days_since) || '天内购买')),
       'builtin-rfm-4', 'BUILTIN',
       CASE WHEN s.u_contact < 0.9 THEN 'MASKED' ELSE 'PLATFORM_ONLY' END,
       CASE WHEN s.u_contact < 0.9
            THEN jsonb_build_object('validity', 'MASKED', 'code', 'MASKED', 'reason', '平台已脱敏，需经平台解密后拨打')
            ELSE jsonb_build_object('validity', 'PLATFORM_ONLY', 'code', 'OPEN_ID', 'reason', '仅有平台买家标识') END,
       CASE WHEN s.tenant = 1 AND s.g % 100 = 0 THEN s.g - 1 END,
       1
FROM bench_scored s JOIN t_ecom_platform_auth p ON p.id = s.shop
ORDER BY s.g;

SELECT setval(pg_get_serial_sequence('t_order_lead', 'id'), 1200000);

INSERT INTO t_lead_identity (tenant_id, key_hash, kind, lead_id)
SELECT 1, 'k1.' || md5(g::text) || md5((g + 7)::text), 'PHONE', g
FROM generate_series(3, 1000000, 3) g;

SET session_replication_role = DEFAULT;
VACUUM ANALYZE t_order_lead;
VACUUM ANALYZE t_lead_identity;
