-- Audit and history rows carry the moment they were written, not their transaction's start:
-- a bulk status change of 100 leads, a long order batch's merge lines and a reveal's records
-- were all stamped with `now()`, the time the transaction began, so a row written later could
-- read earlier than one another transaction wrote in between.
ALTER TABLE t_lead_status_change ALTER COLUMN occurred_at SET DEFAULT clock_timestamp();
ALTER TABLE t_operation_log ALTER COLUMN occurred_at SET DEFAULT clock_timestamp();
ALTER TABLE t_contact_reveal ALTER COLUMN occurred_at SET DEFAULT clock_timestamp();
