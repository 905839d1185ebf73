-- A later version of an order that cannot be read never replaces the readable one stored: the
-- order keeps its last readable version (and the lead its number), and the unreadable version
-- is kept beside it, sealed as raw_data is, with its reason in parse_error, until a readable
-- version replaces both.
ALTER TABLE t_ecom_order_raw ADD COLUMN unreadable_raw_data TEXT;
