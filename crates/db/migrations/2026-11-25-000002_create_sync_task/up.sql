-- Sync tasks and their records (design 2.3, 2.4). Owner: sync-worker (progress, outcome,
-- scheduled tasks). Known coupling: auth-api inserts manual requests (status RUNNING) and reads
-- records for GET sync-records. The partial unique index makes a second running task for the
-- same platform impossible: that conflict is the 40901 answer.
CREATE TABLE t_ecom_sync_task (
    id                BIGSERIAL PRIMARY KEY,
    tenant_id         BIGINT      NOT NULL,
    platform_id       BIGINT      NOT NULL REFERENCES t_ecom_platform_auth (id),
    platform_type     TEXT        NOT NULL,
    trigger_type      TEXT        NOT NULL CHECK (trigger_type IN ('MANUAL', 'SCHEDULED')),
    status            TEXT        NOT NULL CHECK (status IN ('RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    window_start      TIMESTAMPTZ NOT NULL,
    window_end        TIMESTAMPTZ NOT NULL,
    requested_by      BIGINT,
    requested_by_name TEXT,
    sync_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at        TIMESTAMPTZ,
    finished_at       TIMESTAMPTZ,
    pages_fetched     INTEGER     NOT NULL DEFAULT 0,
    success_count     INTEGER     NOT NULL DEFAULT 0,
    failure_count     INTEGER     NOT NULL DEFAULT 0,
    error_message     TEXT,
    update_time       TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (window_end > window_start)
);
CREATE UNIQUE INDEX uq_sync_task_one_running ON t_ecom_sync_task (platform_id) WHERE status = 'RUNNING';
CREATE INDEX ix_sync_task_tenant_time ON t_ecom_sync_task (tenant_id, sync_time DESC, id DESC);
CREATE INDEX ix_sync_task_tenant_platform ON t_ecom_sync_task (tenant_id, platform_id, status, sync_time DESC);
