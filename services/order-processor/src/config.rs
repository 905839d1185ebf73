//! order-processor's configuration.

use leadgen_settings::{
    AmqpSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings, TelemetrySettings,
};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub telemetry: TelemetrySettings,
    pub crypto: CryptoSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    #[serde(default)]
    pub processing: ProcessingSettings,
}

/// `[processing]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessingSettings {
    /// Give up on the broker after this long without a connection.
    #[serde(default = "default_give_up")]
    pub broker_give_up_secs: u64,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            broker_give_up_secs: default_give_up(),
        }
    }
}

fn default_give_up() -> u64 {
    300
}
