-- What an action was asked to do beyond its targets (docs/architecture.md, t_operation_log):
-- a reveal's purpose and the salesperson's reason, a status change's from, to and note. NULL for
-- actions that have none and for lines written before this column. Never secrets or personal
-- data (`leadgen_db::oplog::Entry`).
ALTER TABLE t_operation_log ADD COLUMN IF NOT EXISTS detail JSONB;
