-- Leads are buyers. A lead is one buyer within a tenant, rebuilt from all of the buyer's orders
-- (leadgen_domain::buyer). Owner: order-processor. Known coupling: lead-api reads.
--
-- Existing per-order leads are rebuilt per buyer: their sales decisions are kept in
-- t_lead_legacy_status (by raw order), every processed raw order goes back to PENDING, and
-- order-processor's pending sweep rebuilds the buyer-leads, seeding each one's process status
-- from the kept decisions (PROCESSED over INVALID over PENDING). `leadctl leads rebuild` runs
-- the same rebuild on demand.

CREATE TABLE t_lead_legacy_status (
    raw_order_id   BIGINT PRIMARY KEY REFERENCES t_ecom_order_raw (id),
    tenant_id      BIGINT NOT NULL,
    process_status TEXT   NOT NULL CHECK (process_status IN ('PENDING', 'PROCESSED', 'INVALID'))
);
INSERT INTO t_lead_legacy_status (raw_order_id, tenant_id, process_status)
SELECT raw_order_id, tenant_id, process_status FROM t_order_lead WHERE process_status <> 'PENDING';

UPDATE t_ecom_order_processed SET user_id = NULL;
DELETE FROM t_order_lead;
UPDATE t_ecom_order_raw SET process_status = 'PENDING' WHERE process_status = 'PROCESSED';

-- One row per buyer. order_id, order_time, raw_order_id, processed_order_id, amount_fen and
-- product_info describe the buyer's latest order; platform_id/platform_type its shop, which is
-- also the group the buyer is ranked in.
ALTER TABLE t_order_lead DROP CONSTRAINT t_order_lead_raw_order_id_key;
ALTER TABLE t_order_lead
    ADD COLUMN order_count        INTEGER          NOT NULL,
    ADD COLUMN paid_order_count   INTEGER          NOT NULL,
    ADD COLUMN paid_total_fen     BIGINT           NOT NULL,
    ADD COLUMN last_order_time    TIMESTAMPTZ      NOT NULL,
    -- leadgen_domain::buyer::BuyerAggregate: every count, time, the mean gap and the order ids.
    ADD COLUMN aggregate          JSONB            NOT NULL,
    ADD COLUMN intention          SMALLINT         NOT NULL,
    -- [{code, text}], e.g. {"code":"REPEAT_3","text":"近90天复购3次"}.
    ADD COLUMN score_reasons      JSONB            NOT NULL,
    ADD COLUMN model_version      TEXT             NOT NULL,
    ADD COLUMN scored_by          TEXT             NOT NULL CHECK (scored_by IN ('BUILTIN', 'EXTERNAL')),
    -- The aggregate changed since the external scorer (when configured) last scored it.
    ADD COLUMN external_pending   BOOLEAN          NOT NULL DEFAULT false,
    -- leadgen_domain::validity::Validity and its reason ({validity, code, reason}).
    ADD COLUMN contact_validity   TEXT             NOT NULL,
    ADD COLUMN contact_validity_reason JSONB       NOT NULL,
    -- Set when this lead turned out to be the same buyer as another: it is hidden from lists
    -- and its id keeps resolving to the surviving lead.
    ADD COLUMN merged_into        BIGINT           REFERENCES t_order_lead (id),
    -- Bumped on every change; the If-Match of the lead workspace.
    ADD COLUMN version            INTEGER          NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS ix_lead_tenant_score ON t_order_lead (tenant_id, score DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_tenant_total ON t_order_lead (tenant_id, paid_total_fen DESC, id DESC) WHERE merged_into IS NULL;
CREATE INDEX IF NOT EXISTS ix_lead_rank_group ON t_order_lead (platform_id) WHERE merged_into IS NULL;

-- A buyer's identities as keyed blind indexes (`<key id>.<hex HMAC-SHA256>`), never the values:
-- platform buyer ids, PDD phone search indexes, real phones, or the order itself.
CREATE TABLE t_lead_identity (
    tenant_id   BIGINT      NOT NULL,
    key_hash    TEXT        NOT NULL,
    kind        TEXT        NOT NULL CHECK (kind IN ('PLATFORM_BUYER', 'PHONE_SEARCH_INDEX', 'PHONE', 'ORDER')),
    lead_id     BIGINT      NOT NULL REFERENCES t_order_lead (id),
    create_time TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key_hash)
);
CREATE INDEX IF NOT EXISTS ix_lead_identity_lead ON t_lead_identity (lead_id);

-- Processed orders keep what the buyer aggregate needs and their identities (blind indexes).
-- The unkeyed buyer_key_hash is gone: it could be reversed by enumerating phone numbers.
DROP INDEX IF EXISTS ix_order_processed_buyer;
ALTER TABLE t_ecom_order_processed DROP COLUMN buyer_key_hash;
ALTER TABLE t_ecom_order_processed
    ADD COLUMN identity_keys    TEXT[]      NOT NULL DEFAULT '{}',
    ADD COLUMN order_created_at TIMESTAMPTZ,
    ADD COLUMN paid_at          TIMESTAMPTZ,
    ADD COLUMN refunded         BOOLEAN     NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS ix_order_processed_lead ON t_ecom_order_processed (user_id);

-- Per shop: the compact rank distribution of its buyers (provisional ranks between rescores) and
-- whether its buyers need rescoring (a lead changed since the last rescore).
-- A shop needs rescoring when dirty_seq > rescored_seq (a lead changed) or when its scores were
-- computed as of an earlier day; lease_until keeps two replicas from rescoring it at once.
CREATE TABLE t_lead_shop_stats (
    platform_id  BIGINT      PRIMARY KEY REFERENCES t_ecom_platform_auth (id),
    tenant_id    BIGINT      NOT NULL,
    distribution JSONB,
    dirty_seq    BIGINT      NOT NULL DEFAULT 0,
    dirty_at     TIMESTAMPTZ,
    rescored_seq BIGINT      NOT NULL DEFAULT 0,
    rescored_at  TIMESTAMPTZ,
    as_of        TIMESTAMPTZ,
    lease_until  TIMESTAMPTZ
);
