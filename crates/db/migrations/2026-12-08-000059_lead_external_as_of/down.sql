ALTER TABLE t_order_lead DROP COLUMN IF EXISTS external_as_of;
