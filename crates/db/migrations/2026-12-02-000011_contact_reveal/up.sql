-- Revealing a buyer's number for a call (lead workspace). Owner: lead-api.
-- Every reveal is audited here (the number itself is never stored); the quota counters cap
-- reveals per user and per tenant per Beijing day, inside each platform's own quota.
CREATE TABLE t_contact_reveal (
    id            BIGSERIAL   PRIMARY KEY,
    tenant_id     BIGINT      NOT NULL,
    lead_id       BIGINT      NOT NULL REFERENCES t_order_lead (id),
    platform_id   BIGINT      NOT NULL,
    order_id      TEXT        NOT NULL,
    purpose       TEXT        NOT NULL CHECK (purpose IN ('AFTER_SALES', 'CUSTOMER_CARE', 'FULFILMENT')),
    reason        TEXT,
    operator_id   BIGINT      NOT NULL,
    operator_name TEXT        NOT NULL,
    result        TEXT        NOT NULL CHECK (result IN ('SUCCESS', 'FAILURE')),
    error_code    INTEGER,
    error_message TEXT,
    trace_id      TEXT,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_contact_reveal_lead ON t_contact_reveal (tenant_id, lead_id, occurred_at DESC);

CREATE TABLE t_contact_reveal_quota (
    tenant_id BIGINT  NOT NULL,
    -- 0 for the tenant's own counter, else the user id.
    user_id   BIGINT  NOT NULL,
    day       DATE    NOT NULL,
    used      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, day)
);
