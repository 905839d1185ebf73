DROP INDEX CONCURRENTLY IF EXISTS ix_contact_reveal_time;
