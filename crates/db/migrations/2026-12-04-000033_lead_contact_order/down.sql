ALTER TABLE t_order_lead DROP COLUMN IF EXISTS contact_raw_order_id;
