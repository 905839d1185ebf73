-- An outbox event is stored as the JSON text the relay publishes: serialized once by its
-- producer, never parsed. As JSONB every event was built as a JSON tree, written as text,
-- parsed by PostgreSQL into JSONB, read back and parsed into a tree again, then written as text
-- for the broker: two to three events per order in a backlog (docs/benchmarks.md).
ALTER TABLE t_outbox ALTER COLUMN payload TYPE TEXT USING payload::text;
