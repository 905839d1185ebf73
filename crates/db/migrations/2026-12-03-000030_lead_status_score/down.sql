DROP INDEX IF EXISTS ix_lead_list_status_score;
