-- The pending sweep claims one tenant's due rows in id order (order-processor
-- repo::raw_orders::claim_pending, second statement). Migration 23 dropped the
-- (tenant, status, sync time) index that served it; ix_order_raw_pending has no tenant, so with
-- many tenants' pages in flight the claim would visit every pending row. Partial, like
-- ix_order_raw_pending: only PENDING rows have entries.
CREATE INDEX IF NOT EXISTS ix_order_raw_pending_tenant ON t_ecom_order_raw (tenant_id, id)
    WHERE process_status = 'PENDING';
