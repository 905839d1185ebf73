DROP INDEX IF EXISTS ix_lead_list_tags_created;
DROP INDEX IF EXISTS ix_lead_list_month_score;
DROP INDEX IF EXISTS ix_lead_list_month_created;
