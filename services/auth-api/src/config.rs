//! auth-api's configuration (`config/base.toml`, `config/local.toml`, `LEADGEN__*`).

use leadgen_settings::{
    AmqpSettings, AuthSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings,
    PlatformsSettings, TelemetrySettings,
};
use serde::Deserialize;
use validator::Validate;

#[derive(Debug, Clone, Deserialize, Validate)]
pub struct Settings {
    pub http: HttpSettings,
    #[validate(nested)]
    pub database: DatabaseSettings,
    #[validate(nested)]
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    #[validate(nested)]
    pub auth: AuthSettings,
    pub crypto: CryptoSettings,
    #[validate(nested)]
    pub platforms: PlatformsSettings,
    #[serde(default)]
    #[validate(nested)]
    pub outbox: OutboxSettings,
    #[validate(nested)]
    pub oauth: OAuthSettings,
    #[serde(default)]
    #[validate(nested)]
    pub shops: ShopSettings,
}

/// `[shops]`
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ShopSettings {
    /// How long a disconnected (REVOKED) shop's orders, buyer-leads and sync records are kept
    /// before order-processor deletes them. Connecting the shop again within this period keeps
    /// its history.
    #[serde(default = "default_retention_days")]
    #[validate(range(min = 0, max = 3650, message = "must be 0 to 3650"))]
    pub history_retention_days: i64,
}

impl Default for ShopSettings {
    fn default() -> Self {
        ShopSettings {
            history_retention_days: default_retention_days(),
        }
    }
}

fn default_retention_days() -> i64 {
    30
}

/// `[oauth]`
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct OAuthSettings {
    /// Our callback as the platforms redirect to it, through the gateway
    /// (`…/api/v1/lead-generation/orders/platforms/auth/callback`); used when `authInfo.callbackUrl`
    /// is not given.
    pub callback_url: String,
    /// How long a consent link stays usable.
    #[serde(default = "default_state_ttl")]
    #[validate(range(min = 1, max = 10080, message = "must be 1 to 10080"))]
    pub state_ttl_minutes: i64,
    /// The most new authorizations of one tenant that may wait for their consent at once; one
    /// more is refused (429, 42906) until one completes or lapses (`state_ttl_minutes`). A
    /// merchant connects shops one consent at a time; without a bound, a script repeating the
    /// request would fill the table, the operation log and `platform.changed.v1`.
    #[serde(default = "default_max_pending_per_tenant")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub max_pending_per_tenant: u32,
    /// Front-end origins (`scheme://host[:port]`) a `redirectUrl` may send the browser to after
    /// the callback. Matched exactly on the parsed URL's origin, never as a text prefix. Empty
    /// (the default) allows none: without an allowed origin, `redirectUrl` is refused (422), so
    /// the callback can never be used as an open redirect.
    #[serde(default, deserialize_with = "leadgen_settings::entries")]
    pub allowed_redirect_origins: Vec<String>,
    /// Other origins (`scheme://host[:port]`) at which our callback is reachable, for an
    /// `authInfo.callbackUrl` registered with a platform under another host name. A
    /// `callbackUrl` must be our callback: `callback_url`'s path, without a query or fragment, on
    /// `callback_url`'s origin or one of these. Anything else would hand the platform's
    /// authorization code to another host.
    #[serde(default, deserialize_with = "leadgen_settings::entries")]
    pub allowed_callback_origins: Vec<String>,
    /// When a shop is connected (ACTIVE for the first time), a BACKFILL sync fetches this many
    /// days of its history (the platform's documented limit clips it, with a warning in the
    /// record). 0 turns it off.
    #[serde(default = "default_backfill_days")]
    #[validate(range(min = 0, max = 3650, message = "must be 0 to 3650"))]
    pub backfill_days: i64,
    /// Completes a consent only in the browser that asked for it: creating or re-authorizing
    /// sets a cookie holding the consent's `state`, scoped to the callback's path, and the
    /// callback refuses a `state` whose cookie the browser does not bring (40002). Without it a
    /// merchant sent someone else's consent link would connect their shop to that person's
    /// tenant. Turn it off only where the authorization is created by another system than the
    /// merchant's browser (which then cannot hold the cookie).
    #[serde(default = "default_bind_state_to_browser")]
    pub bind_state_to_browser: bool,
}

fn default_bind_state_to_browser() -> bool {
    true
}

fn default_backfill_days() -> i64 {
    90
}

fn default_max_pending_per_tenant() -> u32 {
    20
}

fn default_state_ttl() -> i64 {
    30
}
