-- When a callback of the pending consent began exchanging its code: one callback of a consent
-- exchanges at a time (a reload of the callback page waits for the first instead of spending
-- the code a second time and invalidating the consent the first is storing). Cleared when that
-- exchange fails for now; a callback that died mid-exchange is taken over after a while.
ALTER TABLE t_ecom_platform_auth ADD COLUMN oauth_exchange_started_at TIMESTAMPTZ;
