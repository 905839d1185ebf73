-- A buyer's phone learned after the order was stored: a salesperson revealed it through the
-- platform's decrypt API (issue 10: a buyer is keyed by "a real phone number, plain or decrypted
-- later"). Only its keyed blind index is kept (`<key id>.<hex HMAC-SHA256>`), never the number.
-- Owner: lead-api writes it with the reveal and hands the order back to order-processor
-- (process_status PENDING); order-processor adds it to the order's identities, so the buyer
-- merges with any lead known by the same phone, in any shop or platform of the tenant.
CREATE TABLE t_order_revealed_identity (
    raw_order_id BIGINT      PRIMARY KEY REFERENCES t_ecom_order_raw (id) ON DELETE CASCADE,
    tenant_id    BIGINT      NOT NULL,
    key_hash     TEXT        NOT NULL,
    revealed_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
