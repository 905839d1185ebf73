ALTER TABLE t_lead_status_change ALTER COLUMN occurred_at SET DEFAULT now();
ALTER TABLE t_operation_log ALTER COLUMN occurred_at SET DEFAULT now();
ALTER TABLE t_contact_reveal ALTER COLUMN occurred_at SET DEFAULT now();
