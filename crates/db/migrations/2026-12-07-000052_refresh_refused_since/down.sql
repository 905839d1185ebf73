ALTER TABLE t_ecom_platform_auth DROP COLUMN refresh_refused_since;
