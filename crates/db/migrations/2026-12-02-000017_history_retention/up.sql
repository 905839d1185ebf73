-- Retention of a disconnected shop's history (issue 12 point 6). Owner of the columns: auth-api
-- sets them; order-processor's retention purge (services/order-processor/src/retention.rs)
-- reads and clears them.
--   * purge_after: when a REVOKED shop's orders, buyer-leads and sync records are deleted
--     (revocation time + [shops] history_retention_days). NULL when not due for a purge (never
--     revoked, connected again, or already purged).
--   * purged_at: when the purge of its history began; a shop connected again after that starts
--     its history anew (a BACKFILL).
ALTER TABLE t_ecom_platform_auth
    ADD COLUMN purge_after TIMESTAMPTZ,
    ADD COLUMN purged_at   TIMESTAMPTZ;
UPDATE t_ecom_platform_auth SET purge_after = update_time + interval '30 days'
 WHERE status = 'REVOKED';
CREATE INDEX IF NOT EXISTS ix_platform_auth_purge_due ON t_ecom_platform_auth (purge_after)
    WHERE status = 'REVOKED' AND purge_after IS NOT NULL;

-- The reveal audit outlives the lead it names: a purged lead's reveals stay on record (they hold
-- no contact value), so the audit no longer depends on the lead row.
ALTER TABLE t_contact_reveal DROP CONSTRAINT t_contact_reveal_lead_id_fkey;

-- The purge finds a shop's processed orders, and their buyers, by shop.
CREATE INDEX IF NOT EXISTS ix_order_processed_platform ON t_ecom_order_processed (platform_id, user_id);
