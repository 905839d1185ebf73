DROP TABLE IF EXISTS t_ecom_platform_auth;
