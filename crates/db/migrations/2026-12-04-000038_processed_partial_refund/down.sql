ALTER TABLE t_ecom_order_processed DROP COLUMN partial_refund_fen;
