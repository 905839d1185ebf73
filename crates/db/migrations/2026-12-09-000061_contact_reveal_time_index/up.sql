-- Housekeeping deletes reveal records past `[processing] reveal_record_retention_days`, oldest
-- first, in bounded statements: by the time they happened, every tenant's.
CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_contact_reveal_time ON t_contact_reveal (occurred_at);
