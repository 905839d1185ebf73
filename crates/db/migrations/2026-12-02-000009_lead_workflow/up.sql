-- The sales workflow of buyer-leads: who moved a lead from which status to which, when, why.
-- Owner: lead-api. lead-api also writes t_order_lead.process_status and version through its
-- workflow repository (a documented coupling: order-processor owns the lead row and its facts,
-- lead-api the workflow columns; both bump version, so If-Match sees every change).
CREATE TABLE t_lead_status_change (
    id            BIGSERIAL   PRIMARY KEY,
    tenant_id     BIGINT      NOT NULL,
    lead_id       BIGINT      NOT NULL REFERENCES t_order_lead (id),
    from_status   TEXT        NOT NULL CHECK (from_status IN ('PENDING', 'PROCESSED', 'INVALID')),
    to_status     TEXT        NOT NULL CHECK (to_status IN ('PENDING', 'PROCESSED', 'INVALID')),
    note          TEXT,
    operator_id   BIGINT      NOT NULL,
    operator_name TEXT        NOT NULL,
    occurred_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS ix_lead_status_change_lead ON t_lead_status_change (tenant_id, lead_id, occurred_at DESC);
-- A lead's merged-away leads, for the detail's history and for resolving their ids.
CREATE INDEX IF NOT EXISTS ix_lead_merged_into ON t_order_lead (merged_into) WHERE merged_into IS NOT NULL;
