DROP INDEX IF EXISTS ix_operation_log_tenant_action;
DROP INDEX IF EXISTS ix_operation_log_targets;
