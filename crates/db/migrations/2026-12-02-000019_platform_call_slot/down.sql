DROP TABLE t_platform_call_slot;
