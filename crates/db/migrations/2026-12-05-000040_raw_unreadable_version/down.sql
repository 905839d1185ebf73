ALTER TABLE t_ecom_order_raw DROP COLUMN unreadable_raw_data;
