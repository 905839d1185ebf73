-- A partial refund (some lines of an order refunded, others kept), in fen: what the refunded
-- lines paid. NULL with `refunded` is the whole order, as every order stored before this
-- column counts (its lines were not kept apart); an order fetched again is read per line.
ALTER TABLE t_ecom_order_processed ADD COLUMN partial_refund_fen BIGINT;
