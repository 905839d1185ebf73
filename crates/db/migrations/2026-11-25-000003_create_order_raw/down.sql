DROP TABLE IF EXISTS t_ecom_order_raw;
