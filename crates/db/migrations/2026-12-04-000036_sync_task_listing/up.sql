-- Which of an order's times a sync task's window selects by (`leadgen_domain::sync::Listing`):
-- `MODIFIED` for every sync that catches up on changes (scheduled; manual without a start),
-- `CREATED` for a backfill and a manual sync of a named period. Tasks written before were
-- by modification exactly when scheduled.
ALTER TABLE t_ecom_sync_task
    ADD COLUMN listing TEXT NOT NULL DEFAULT 'CREATED'
        CONSTRAINT t_ecom_sync_task_listing_check CHECK (listing IN ('CREATED', 'MODIFIED'));
UPDATE t_ecom_sync_task SET listing = 'MODIFIED' WHERE trigger_type = 'SCHEDULED';
