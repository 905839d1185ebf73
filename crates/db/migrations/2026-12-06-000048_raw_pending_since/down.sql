DROP TRIGGER IF EXISTS tr_order_raw_pending_since ON t_ecom_order_raw;
DROP FUNCTION IF EXISTS raw_order_pending_since();
ALTER TABLE t_ecom_order_raw DROP COLUMN IF EXISTS pending_since;
