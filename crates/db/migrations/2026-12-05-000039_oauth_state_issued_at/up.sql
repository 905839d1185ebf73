-- When the pending consent's state was issued: a consent link stays usable `[oauth]
-- state_ttl_minutes` from then. It was measured from `update_time`, which token refreshes and
-- status changes move forward, bringing an expired link back to life.
ALTER TABLE t_ecom_platform_auth ADD COLUMN oauth_state_issued_at TIMESTAMPTZ DEFAULT now();
UPDATE t_ecom_platform_auth SET oauth_state_issued_at = update_time WHERE oauth_state_hash IS NOT NULL;
UPDATE t_ecom_platform_auth SET oauth_state_issued_at = NULL WHERE oauth_state_hash IS NULL;
