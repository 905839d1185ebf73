//! lead-api's configuration (`config/base.toml`, `services/lead-api/config/base.toml`,
//! `LEADGEN__*`).

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
    pub telemetry: TelemetrySettings,
    #[validate(nested)]
    pub auth: AuthSettings,
    /// The broker `LeadUpdated` goes out on (through the outbox).
    #[validate(nested)]
    pub amqp: AmqpSettings,
    #[serde(default)]
    #[validate(nested)]
    pub outbox: OutboxSettings,
    /// The data key (a shop's sealed credentials, an order's neutral form) and the blind-index
    /// key (search by phone).
    pub crypto: CryptoSettings,
    /// The platforms' endpoints (revealing a number calls the platform's decrypt API).
    #[validate(nested)]
    pub platforms: PlatformsSettings,
    #[serde(default)]
    #[validate(nested)]
    pub reveal: RevealSettings,
}

/// `[reveal]`: limits on revealing numbers, inside each platform's own quota.
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RevealSettings {
    /// Reveals one salesperson may make per Beijing day.
    #[serde(default = "default_per_user")]
    #[validate(range(min = 0, message = "must be at least 0"))]
    pub per_user_daily: i32,
    /// Reveals one tenant may make per Beijing day.
    #[serde(default = "default_per_tenant")]
    #[validate(range(min = 0, message = "must be at least 0"))]
    pub per_tenant_daily: i32,
    /// Retries of a platform call after the first attempt (throttling, 5xx).
    #[serde(default = "default_retries")]
    pub max_retries: usize,
    /// Upper bound of one backoff wait: a salesperson is waiting.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// Different full mobile numbers one tenant may search behind one mask (`138****5678`) per
    /// Beijing day (`service::quota`).
    #[serde(default = "default_per_mask")]
    #[validate(range(min = 0, message = "must be at least 0"))]
    pub per_mask_daily: i32,
    /// Reveals of one tenant in flight at a time, per process (`service::slots`).
    #[serde(default = "default_per_tenant_concurrency")]
    pub per_tenant_concurrency: usize,
    /// How long a reveal waits for one of its tenant's slots before 42904.
    #[serde(default = "default_busy_wait_ms")]
    pub busy_wait_ms: u64,
    /// The longest a reveal waits for the platform, retries included, before 50201: a
    /// salesperson is waiting with the phone in hand (and the gateway gives up at 60 s).
    #[serde(default = "default_deadline_ms")]
    #[validate(range(
        min = 1000,
        max = 60000,
        message = "must be 1000 to 60000 (the gateway gives up at 60 s)"
    ))]
    pub deadline_ms: u64,
}

impl Default for RevealSettings {
    fn default() -> Self {
        RevealSettings {
            per_user_daily: default_per_user(),
            per_tenant_daily: default_per_tenant(),
            per_mask_daily: default_per_mask(),
            max_retries: default_retries(),
            max_backoff_ms: default_max_backoff_ms(),
            per_tenant_concurrency: default_per_tenant_concurrency(),
            busy_wait_ms: default_busy_wait_ms(),
            deadline_ms: default_deadline_ms(),
        }
    }
}

fn default_per_user() -> i32 {
    200
}
fn default_per_tenant() -> i32 {
    2_000
}
fn default_per_mask() -> i32 {
    5
}
fn default_retries() -> usize {
    2
}
fn default_max_backoff_ms() -> u64 {
    2_000
}
fn default_per_tenant_concurrency() -> usize {
    4
}
fn default_busy_wait_ms() -> u64 {
    5_000
}
fn default_deadline_ms() -> u64 {
    20_000
}
