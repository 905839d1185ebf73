-- Raw orders as the platform sent them (design 3.1 t_ecom_order_raw). Owner: sync-worker.
-- Known coupling: order-processor reads rows named by RawOrdersFetched and sets process_status.
-- A platform order is stored once per platform authorization: (platform_id, order_id).
CREATE TABLE t_ecom_order_raw (
    id                BIGSERIAL PRIMARY KEY,
    tenant_id         BIGINT      NOT NULL,
    platform_id       BIGINT      NOT NULL REFERENCES t_ecom_platform_auth (id),
    platform_type     TEXT        NOT NULL,
    order_id          TEXT        NOT NULL,
    -- Sealed: the platform's original JSON of this order, untouched.
    raw_data          TEXT        NOT NULL,
    -- Sealed: the platform-neutral form; NULL when the order could not be parsed.
    normalized        TEXT,
    parse_error       TEXT,
    content_hash      TEXT        NOT NULL,
    order_created_at  TIMESTAMPTZ,
    order_modified_at TIMESTAMPTZ,
    sync_task_id      BIGINT      NOT NULL REFERENCES t_ecom_sync_task (id),
    sync_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    process_status    TEXT        NOT NULL DEFAULT 'PENDING'
                      CHECK (process_status IN ('PENDING', 'PROCESSED', 'MALFORMED')),
    CONSTRAINT uq_order_raw_platform_order UNIQUE (platform_id, order_id)
);
CREATE INDEX ix_order_raw_tenant_status ON t_ecom_order_raw (tenant_id, process_status, sync_time);
CREATE INDEX ix_order_raw_task ON t_ecom_order_raw (sync_task_id);
