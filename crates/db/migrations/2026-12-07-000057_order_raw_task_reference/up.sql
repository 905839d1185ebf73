-- A raw order names the sync task that last fetched it (`sync_task_id`); housekeeping now
-- deletes sync records past `[processing] sync_record_retention_days`, and an order unchanged
-- since a year-old fetch still names that fetch. The reference stays as a plain id (a sync
-- record that was deleted is not looked up: only a running task's unreadable orders are read
-- by it, `note_unreadable`); the foreign key goes, so deleting a record never rewrites the
-- orders' rows. Dropping a constraint takes both tables' locks for a moment only.
ALTER TABLE t_ecom_order_raw DROP CONSTRAINT IF EXISTS t_ecom_order_raw_sync_task_id_fkey;
