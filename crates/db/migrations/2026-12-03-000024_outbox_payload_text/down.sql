ALTER TABLE t_outbox ALTER COLUMN payload TYPE JSONB USING payload::jsonb;
