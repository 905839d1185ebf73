-- The lead's version when its process status was last set by a salesperson (lead-api). A status
-- change's If-Match is refused (409) only when the status changed since the version the client
-- read: a rescore, a new order or a note bumps `version` (the ETag) but overwrites no one's
-- decision. Leads whose status was changed before keep their current version (the old rule,
-- until their next change); the others take 0.
ALTER TABLE t_order_lead ADD COLUMN status_version INTEGER NOT NULL DEFAULT 0;
UPDATE t_order_lead l SET status_version = l.version
 WHERE EXISTS (SELECT 1 FROM t_lead_status_change c WHERE c.lead_id = l.id);
