DROP TABLE IF EXISTS t_lead_shop_stats;
DROP INDEX IF EXISTS ix_order_processed_lead;
ALTER TABLE t_ecom_order_processed
    DROP COLUMN IF EXISTS identity_keys,
    DROP COLUMN IF EXISTS order_created_at,
    DROP COLUMN IF EXISTS paid_at,
    DROP COLUMN IF EXISTS refunded,
    ADD COLUMN buyer_key_hash TEXT;
CREATE INDEX ix_order_processed_buyer ON t_ecom_order_processed (tenant_id, platform_id, buyer_key_hash);
DROP TABLE IF EXISTS t_lead_identity;
UPDATE t_ecom_order_processed SET user_id = NULL;
DELETE FROM t_order_lead;
UPDATE t_ecom_order_raw SET process_status = 'PENDING' WHERE process_status = 'PROCESSED';
DROP INDEX IF EXISTS ix_lead_tenant_score;
DROP INDEX IF EXISTS ix_lead_tenant_total;
DROP INDEX IF EXISTS ix_lead_rank_group;
ALTER TABLE t_order_lead
    DROP COLUMN order_count, DROP COLUMN paid_order_count, DROP COLUMN paid_total_fen,
    DROP COLUMN last_order_time, DROP COLUMN aggregate, DROP COLUMN intention,
    DROP COLUMN score_reasons, DROP COLUMN model_version, DROP COLUMN scored_by,
    DROP COLUMN external_pending, DROP COLUMN contact_validity, DROP COLUMN contact_validity_reason,
    DROP COLUMN merged_into, DROP COLUMN version;
ALTER TABLE t_order_lead ADD CONSTRAINT t_order_lead_raw_order_id_key UNIQUE (raw_order_id);
DROP TABLE IF EXISTS t_lead_legacy_status;
