DROP TABLE IF EXISTS t_ecom_sync_task;
