-- Cleaned, standardized orders (design 3.1 t_ecom_order_processed). Owner: order-processor.
CREATE TABLE t_ecom_order_processed (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT      NOT NULL,
    platform_id     BIGINT      NOT NULL REFERENCES t_ecom_platform_auth (id),
    platform_type   TEXT        NOT NULL,
    raw_order_id    BIGINT      NOT NULL UNIQUE REFERENCES t_ecom_order_raw (id),
    order_id        TEXT        NOT NULL,
    -- The lead this order produced, if any (design: user_id -> t_lead).
    user_id         BIGINT,
    -- SHA-256 of the buyer's key (open id or phone) with the tenant; never the key itself.
    buyer_key_hash  TEXT,
    status          TEXT        NOT NULL,
    platform_status TEXT        NOT NULL,
    amount_fen      BIGINT      NOT NULL,
    order_time      TIMESTAMPTZ NOT NULL,
    product_info    TEXT        NOT NULL,
    -- Sealed contact field (kind, value, masked companion) and its display form.
    contact_info    TEXT,
    contact_masked  TEXT,
    contact_kind    TEXT,
    region          TEXT        NOT NULL DEFAULT '',
    create_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uq_order_processed_platform_order UNIQUE (platform_id, order_id)
);
CREATE INDEX ix_order_processed_buyer ON t_ecom_order_processed (tenant_id, platform_id, buyer_key_hash);
CREATE INDEX ix_order_processed_tenant_time ON t_ecom_order_processed (tenant_id, order_time DESC);
