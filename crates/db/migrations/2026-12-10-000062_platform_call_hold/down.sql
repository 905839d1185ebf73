DROP TABLE IF EXISTS t_platform_call_hold;
