-- Scheduled syncs list orders by modification time (docs/platform-sync.md). The watermark is the
-- end of the last by-modification window whose pages were all stored, never the wall clock at a
-- sync's start; the next scheduled sync starts there, less the overlap. Owner: sync-worker.
ALTER TABLE t_ecom_platform_auth ADD COLUMN modified_watermark TIMESTAMPTZ;
