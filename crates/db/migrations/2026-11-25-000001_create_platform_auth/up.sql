-- Platform authorizations (design 3.1 t_ecom_platform_auth). Owner: auth-api.
-- Known coupling: sync-worker reads sealed credentials and writes refreshed tokens,
-- token expiry and last_sync_time through its `credentials` repository.
CREATE TABLE t_ecom_platform_auth (
    id                  BIGSERIAL PRIMARY KEY,
    tenant_id           BIGINT      NOT NULL,
    platform_type       TEXT        NOT NULL CHECK (platform_type IN ('TAOBAO', 'JD', 'PDD', 'DOUYIN', 'KUAISHOU')),
    app_key             TEXT        NOT NULL,
    -- Sealed JSON of the merchant's authInfo (appSecret and platform-specific values).
    auth_info           TEXT        NOT NULL,
    access_token        TEXT,
    refresh_token       TEXT,
    shop_id             TEXT,
    shop_name           TEXT,
    status              TEXT        NOT NULL CHECK (status IN ('PENDING_AUTH', 'ACTIVE', 'EXPIRED', 'INVALID')),
    -- SHA-256 (hex) of the OAuth state we handed to the platform; cleared once used.
    oauth_state_hash    TEXT UNIQUE,
    redirect_url        TEXT,
    callback_url        TEXT        NOT NULL,
    expiry_time         TIMESTAMPTZ,
    refresh_expiry_time TIMESTAMPTZ,
    last_sync_time      TIMESTAMPTZ,
    created_by          BIGINT      NOT NULL,
    create_time         TIMESTAMPTZ NOT NULL DEFAULT now(),
    update_time         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ix_platform_auth_tenant_list ON t_ecom_platform_auth (tenant_id, create_time DESC, id DESC);
CREATE INDEX ix_platform_auth_tenant_filter ON t_ecom_platform_auth (tenant_id, platform_type, status);
