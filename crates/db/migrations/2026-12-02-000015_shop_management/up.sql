-- Shop management (design 4.1 updateAuthStatus; issue 12 point 6). Owner: auth-api.
--   * DISABLED: the merchant paused the shop (not synced, syncs refused); ACTIVE again on request.
--   * REVOKED: the merchant disconnected the shop: tokens wiped, syncs stopped, history kept.
--   * status_reason: why a shop is EXPIRED, INVALID, DISABLED or REVOKED (shown to the merchant).
--   * superseded_by: a consent that turned out to be a shop the tenant already connected renews
--     that record; the new record is kept (its id was already answered in a 201 Location) and
--     resolves to the surviving one.
ALTER TABLE t_ecom_platform_auth DROP CONSTRAINT t_ecom_platform_auth_status_check;
ALTER TABLE t_ecom_platform_auth ADD CONSTRAINT t_ecom_platform_auth_status_check
    CHECK (status IN ('PENDING_AUTH', 'ACTIVE', 'EXPIRED', 'INVALID', 'DISABLED', 'REVOKED'));
ALTER TABLE t_ecom_platform_auth
    ADD COLUMN status_reason TEXT,
    ADD COLUMN superseded_by BIGINT REFERENCES t_ecom_platform_auth (id);
