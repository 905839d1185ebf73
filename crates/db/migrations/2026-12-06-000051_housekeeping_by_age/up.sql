-- order-processor's housekeeping deletes the processed-message ledger and the operation log by
-- age. Both are written in time order, so a BRIN index (a few pages for millions of rows) finds
-- the oldest block ranges without a scan of the whole table, and costs writes nearly nothing.
CREATE INDEX IF NOT EXISTS ix_operation_log_occurred_brin ON t_operation_log USING BRIN (occurred_at);
CREATE INDEX IF NOT EXISTS ix_processed_message_at_brin ON t_processed_message USING BRIN (processed_at);
