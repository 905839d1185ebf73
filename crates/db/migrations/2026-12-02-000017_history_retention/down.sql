DROP INDEX IF EXISTS ix_order_processed_platform;
DELETE FROM t_contact_reveal r WHERE NOT EXISTS (SELECT 1 FROM t_order_lead l WHERE l.id = r.lead_id);
ALTER TABLE t_contact_reveal ADD CONSTRAINT t_contact_reveal_lead_id_fkey
    FOREIGN KEY (lead_id) REFERENCES t_order_lead (id);
DROP INDEX IF EXISTS ix_platform_auth_purge_due;
ALTER TABLE t_ecom_platform_auth DROP COLUMN purge_after, DROP COLUMN purged_at;
