-- The request (CloudEvents id of its SyncRequested) whose worker runs the task. Another request
-- for a task claimed under a live lease is a duplicate and does not start a second walk; the
-- same request redelivered (its worker died) takes the task over at once.
ALTER TABLE t_ecom_sync_task ADD COLUMN claimed_by TEXT;
