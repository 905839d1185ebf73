-- The raw order whose contact the lead shows (docs/architecture.md, t_order_lead).
--
-- A lead shows its buyer's best contact: the most usable one, then the newest
-- (`leadgen_domain::lead::best_contact`). That is not always the latest order's: a buyer's newest
-- order may carry an expired privacy number while an older one carries a valid mobile. A reveal
-- must decrypt the number the salesperson sees, so the lead keeps the order it came from.
-- NULL for a buyer without a contact, and for rows written before this column until
-- order-processor rewrites them (`leadctl leads rebuild` does it at once); a reveal then falls
-- back to the latest order, as before.
ALTER TABLE t_order_lead ADD COLUMN IF NOT EXISTS contact_raw_order_id BIGINT;
