-- Operation log (design 7): who did what, to which ids, with which result. Append-only; each
-- service appends its own rows (column `service`).
CREATE TABLE t_operation_log (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT      NOT NULL,
    service       TEXT        NOT NULL,
    operator_id   BIGINT,
    operator_name TEXT,
    action        TEXT        NOT NULL,
    target_type   TEXT        NOT NULL,
    target_ids    TEXT[]      NOT NULL,
    result        TEXT        NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
    error_message TEXT,
    trace_id      TEXT,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_operation_log_tenant_time ON t_operation_log (tenant_id, occurred_at DESC);
