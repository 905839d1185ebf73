ALTER TABLE t_ecom_platform_auth DROP COLUMN oauth_state_issued_at;
