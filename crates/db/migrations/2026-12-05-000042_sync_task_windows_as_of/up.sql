-- The instant a run split the task's range into the platform's windows. Where the platform
-- limits how far back it serves (Taobao and Kuaishou by creation time), the windows depend on
-- it; a resumed run splits the range as of the same instant, so the windows it skips are the
-- ones stored, not windows that moved forward since (whose first slice would be skipped).
ALTER TABLE t_ecom_sync_task ADD COLUMN windows_as_of TIMESTAMPTZ;
