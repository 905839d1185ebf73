ALTER TABLE t_ecom_platform_auth DROP COLUMN modified_watermark;
