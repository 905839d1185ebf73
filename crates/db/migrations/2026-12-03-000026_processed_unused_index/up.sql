-- No query reads processed orders by (tenant, order time): a lead's orders are read by their
-- lead (ix_order_processed_lead), the order-processor's links by (platform_id, order_id), the
-- retention purge by (platform_id, user_id). The index cost an entry for every order processed.
DROP INDEX IF EXISTS ix_order_processed_tenant_time;
