DROP TRIGGER t_ecom_platform_auth_status_version ON t_ecom_platform_auth;
DROP FUNCTION leadgen_platform_status_version();
ALTER TABLE t_ecom_platform_auth DROP COLUMN status_version;
