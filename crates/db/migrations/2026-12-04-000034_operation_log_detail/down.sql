ALTER TABLE t_operation_log DROP COLUMN IF EXISTS detail;
