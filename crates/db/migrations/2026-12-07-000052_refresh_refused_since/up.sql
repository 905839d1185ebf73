-- Since when the platform has answered this shop's refreshes without tokens after saying its
-- access token expired (PDD, JD and Kuaishou document no refusal for their token endpoints).
-- Cleared by new tokens, a new consent and a sync's page the platform answered; sync-worker's refresher ends a
-- shop still refused after `[sync] token_refresh_give_up_hours`.
ALTER TABLE t_ecom_platform_auth ADD COLUMN refresh_refused_since TIMESTAMPTZ;
