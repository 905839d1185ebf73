DROP INDEX IF EXISTS ix_lead_merged_into;
DROP TABLE IF EXISTS t_lead_status_change;
