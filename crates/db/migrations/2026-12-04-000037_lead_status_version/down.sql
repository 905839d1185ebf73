ALTER TABLE t_order_lead DROP COLUMN status_version;
