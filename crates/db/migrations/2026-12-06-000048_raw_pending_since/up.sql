-- When a raw order began to wait for processing: stored, stored again changed, or handed back
-- (`leadctl leads rebuild`, a blind-index rotation, a revealed phone, a rescore's lapsed
-- contact). `leadgen_raw_orders_pending_oldest_age_seconds` (and the alert on it) reads this:
-- `sync_time`, when the order was stored, made a planned rebuild of old orders look stuck
-- at once. The pending sweep still reads `sync_time` (handed-back rows are due at once).
--
-- Set once here for every writer (sync-worker, order-processor, lead-api, leadctl): a row
-- that becomes PENDING from another status starts waiting now; one already PENDING keeps its
-- start. The trigger's WHEN is tested on each updated row and fires only on that change.
ALTER TABLE t_ecom_order_raw ADD COLUMN pending_since TIMESTAMPTZ NOT NULL DEFAULT now();
-- Rows waiting already keep their age: a backlog stuck before the upgrade still alerts.
UPDATE t_ecom_order_raw SET pending_since = sync_time WHERE process_status = 'PENDING';

CREATE FUNCTION raw_order_pending_since() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.pending_since := now();
    RETURN NEW;
END
$$;

CREATE TRIGGER tr_order_raw_pending_since
    BEFORE UPDATE OF process_status ON t_ecom_order_raw
    FOR EACH ROW
    WHEN (NEW.process_status = 'PENDING' AND OLD.process_status IS DISTINCT FROM 'PENDING')
    EXECUTE FUNCTION raw_order_pending_since();
