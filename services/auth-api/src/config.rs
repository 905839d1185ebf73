//! auth-api's configuration (`config/base.toml`, `config/local.toml`, `LEADGEN__*`).

use leadgen_settings::{
    AmqpSettings, AuthSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings,
    PlatformsSettings, TelemetrySettings,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub auth: AuthSettings,
    pub crypto: CryptoSettings,
    pub platforms: PlatformsSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    pub oauth: OAuthSettings,
}

/// `[oauth]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// Our callback as the platforms redirect to it, through the gateway
    /// (`…/api/v1/lead-generation/orders/platforms/auth/callback`); used when `authInfo.callbackUrl`
    /// is not given.
    pub callback_url: String,
    /// How long a consent link stays usable.
    #[serde(default = "default_state_ttl")]
    pub state_ttl_minutes: i64,
    /// Front-end origins `redirectUrl` may point at (prefix match); empty allows any http(s) URL.
    #[serde(default)]
    pub allowed_redirect_prefixes: Vec<String>,
}

fn default_state_ttl() -> i64 {
    30
}
