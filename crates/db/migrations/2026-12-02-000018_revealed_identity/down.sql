DROP TABLE t_order_revealed_identity;
