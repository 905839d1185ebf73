-- The retention purge's memory of a due shop whose purge keeps failing (order-processor,
-- `services/order-processor/src/repo/purge.rs`): its purge steps that failed in a row, and when
-- it may be claimed again. The claim takes the shop due the longest first: without a wait, one
-- shop whose purge always fails would be claimed first again on every pass, and no shop behind
-- it would ever be purged. A step that succeeds sets both back.
ALTER TABLE t_ecom_platform_auth
    ADD COLUMN purge_failures INT NOT NULL DEFAULT 0,
    ADD COLUMN purge_retry_at TIMESTAMPTZ;
