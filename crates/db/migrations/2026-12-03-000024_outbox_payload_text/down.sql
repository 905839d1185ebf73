-- Fails while an event whose JSON escapes a NUL character (\u0000, which JSONB refuses) is still
-- waiting: let the relay publish it first.
ALTER TABLE t_outbox ALTER COLUMN payload TYPE JSONB USING payload::jsonb;
