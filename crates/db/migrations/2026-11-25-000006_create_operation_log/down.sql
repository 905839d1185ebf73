DROP TABLE IF EXISTS t_operation_log;
