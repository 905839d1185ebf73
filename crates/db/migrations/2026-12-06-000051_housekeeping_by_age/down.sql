DROP INDEX IF EXISTS ix_processed_message_at_brin;
DROP INDEX IF EXISTS ix_operation_log_occurred_brin;
