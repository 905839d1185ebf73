-- When the shop last became able to sync again: a consent stored its tokens (connected, or
-- authorized again), or the merchant resumed it. The scheduler's wait after failed syncs counts
-- only the failures since (those before were the old grant's, or the pause's).
ALTER TABLE t_ecom_platform_auth ADD COLUMN activated_at TIMESTAMPTZ;
