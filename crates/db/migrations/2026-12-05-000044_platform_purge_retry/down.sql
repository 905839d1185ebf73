ALTER TABLE t_ecom_platform_auth DROP COLUMN purge_retry_at, DROP COLUMN purge_failures;
