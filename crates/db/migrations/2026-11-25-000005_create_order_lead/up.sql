-- Leads identified from orders (design 3.1 t_order_lead). Owner: order-processor.
-- Known coupling: lead-api reads leads for GET leads.
CREATE TABLE t_order_lead (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          BIGINT      NOT NULL,
    platform_id        BIGINT      NOT NULL REFERENCES t_ecom_platform_auth (id),
    platform_type      TEXT        NOT NULL,
    -- The platform's order id (the API's orderId).
    order_id           TEXT        NOT NULL,
    raw_order_id       BIGINT      NOT NULL UNIQUE REFERENCES t_ecom_order_raw (id),
    processed_order_id BIGINT      NOT NULL REFERENCES t_ecom_order_processed (id),
    contact_info       TEXT        NOT NULL,
    contact_masked     TEXT        NOT NULL,
    contact_kind       TEXT        NOT NULL,
    product_info       TEXT        NOT NULL,
    amount_fen         BIGINT      NOT NULL,
    order_time         TIMESTAMPTZ NOT NULL,
    intention_tags     TEXT[]      NOT NULL,
    score              SMALLINT    NOT NULL,
    process_status     TEXT        NOT NULL DEFAULT 'PENDING' CHECK (process_status IN ('PENDING', 'PROCESSED', 'INVALID')),
    create_time        TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time        TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_lead_tenant_order_time ON t_order_lead (tenant_id, order_time DESC, id DESC);
CREATE INDEX ix_lead_tenant_platform ON t_order_lead (tenant_id, platform_id, order_time DESC);
CREATE INDEX ix_lead_tenant_status ON t_order_lead (tenant_id, process_status, order_time DESC);
CREATE INDEX ix_lead_tenant_create_time ON t_order_lead (tenant_id, create_time DESC);
CREATE INDEX ix_lead_tags ON t_order_lead USING GIN (intention_tags);
