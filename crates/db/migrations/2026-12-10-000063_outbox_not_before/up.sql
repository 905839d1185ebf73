-- An event the relay may publish no earlier than this (NULL: at once): a request sent back to
-- the queue to be tried again later (sync-worker, a tenant over its share of running syncs)
-- waits here, not in a consumer holding its delivery. Nullable without a default: a metadata
-- change. A relay of the previous release ignores it and publishes such a row at once, as that
-- release did.
ALTER TABLE t_outbox ADD COLUMN IF NOT EXISTS not_before TIMESTAMPTZ;
