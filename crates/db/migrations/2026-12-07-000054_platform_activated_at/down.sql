ALTER TABLE t_ecom_platform_auth DROP COLUMN activated_at;
