ALTER TABLE t_ecom_platform_auth DROP COLUMN superseded_by, DROP COLUMN status_reason;
UPDATE t_ecom_platform_auth SET status = 'INVALID' WHERE status IN ('DISABLED', 'REVOKED');
ALTER TABLE t_ecom_platform_auth DROP CONSTRAINT t_ecom_platform_auth_status_check;
ALTER TABLE t_ecom_platform_auth ADD CONSTRAINT t_ecom_platform_auth_status_check
    CHECK (status IN ('PENDING_AUTH', 'ACTIVE', 'EXPIRED', 'INVALID'));
