-- The pending sweep asks for the oldest raw orders still `PENDING` (in id order) every
-- `sweep_interval_secs`. Without this index that walked the whole table: 84 ms per sweep on a
-- 20,000-order shop (pg_stat_statements, the system benchmark), growing with every order ever
-- synced. Pending rows are few (a page in flight, a lost message), so the index stays small.
CREATE INDEX IF NOT EXISTS ix_order_raw_pending ON t_ecom_order_raw (id) WHERE process_status = 'PENDING';
