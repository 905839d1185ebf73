-- The audit API (GET /operation-logs) filters by target id and by action within a tenant.
CREATE INDEX IF NOT EXISTS ix_operation_log_targets ON t_operation_log USING GIN (target_ids);
CREATE INDEX IF NOT EXISTS ix_operation_log_tenant_action ON t_operation_log (tenant_id, action, occurred_at DESC);
