-- Cheaper raw-order writes (sync-worker's insert and order-processor's status update, once per
-- order; docs/benchmarks.md).
--
-- No query reads raw orders by (tenant, status, sync time): the pending sweep uses
-- ix_order_raw_pending, everything else the primary key, (platform_id, order_id) or the task.
-- The index only cost an entry per insert and per status update.
DROP INDEX IF EXISTS ix_order_raw_tenant_status;
-- The sealed columns are AES-GCM ciphertext in base64, which never compresses: store them out
-- of line when large without trying (pglz gave up on every row, after trying).
ALTER TABLE t_ecom_order_raw ALTER COLUMN raw_data SET STORAGE EXTERNAL;
ALTER TABLE t_ecom_order_raw ALTER COLUMN normalized SET STORAGE EXTERNAL;
