DROP TABLE IF EXISTS t_processed_message;
DROP TABLE IF EXISTS t_outbox;
