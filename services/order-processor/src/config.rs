//! order-processor's configuration.

use std::num::NonZeroU32;

use chrono::{DateTime, Utc};
use leadgen_settings::{
    AmqpSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings, TelemetrySettings,
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
    pub crypto: CryptoSettings,
    #[serde(default)]
    #[validate(nested)]
    pub outbox: OutboxSettings,
    #[serde(default)]
    #[validate(nested)]
    pub processing: ProcessingSettings,
    /// The optional external `predictIntention`; absent `url` = the built-in model only.
    #[serde(default)]
    pub scorer: leadgen_scorer::ScorerSettings,
}

/// `[processing]`
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ProcessingSettings {
    /// Raw orders still `PENDING` this long after they were stored are processed by the sweep.
    #[serde(default = "default_pending_after")]
    pub pending_after_secs: u64,
    /// How often the sweep looks for pending raw orders.
    #[serde(default = "default_sweep_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub sweep_interval_secs: u64,
    /// Raw orders per sweep transaction.
    #[serde(default = "default_sweep_batch")]
    #[validate(range(min = 1, max = 10000, message = "must be 1 to 10000"))]
    pub sweep_batch_size: i64,
    /// How often the rescore looks for shops to rescore.
    #[serde(default = "default_rescore_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub rescore_interval_ms: u64,
    /// A shop is rescored once its leads stopped changing for this long…
    #[serde(default = "default_rescore_settle")]
    pub rescore_settle_ms: u64,
    /// …or, while changes keep coming, at least this often.
    #[serde(default = "default_rescore_max_wait")]
    pub rescore_max_wait_secs: u64,
    /// A replica rescoring a shop holds it this long at most; a replica that dies mid-rescore
    /// delays that shop's scores by up to this much.
    #[serde(default = "default_rescore_lease")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub rescore_lease_secs: u64,
    /// Leads a rescore reads, scores and writes at a time (one transaction each); bounds its
    /// memory whatever the shop's size. The lease is renewed after each chunk.
    #[serde(default = "default_rescore_chunk")]
    #[validate(range(min = 1, max = 100000, message = "must be 1 to 100000"))]
    pub rescore_chunk_leads: i64,
    /// Score as of this instant instead of the start of the current Beijing day (replays, tests).
    #[serde(default)]
    pub score_as_of: Option<DateTime<Utc>>,
    /// How often the retention purge looks for disconnected or lapsed shops whose history is due
    /// for deletion (auth-api's `[shops] history_retention_days` sets when for the first).
    #[serde(default = "default_purge_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub purge_interval_secs: u64,
    /// How long the history of a shop whose grant the platform ended (EXPIRED, INVALID: a
    /// subscription that lapsed, a consent withdrawn on the platform) is kept before the
    /// retention purge deletes it, unless the merchant authorizes it again first. Counted from
    /// when the purge first sees it so (shown as the shop's `historyPurgeAt`).
    #[serde(default = "default_lapsed_shop_retention")]
    #[validate(custom(function = "at_most_ten_years"))]
    pub lapsed_shop_retention_days: NonZeroU32,
    /// Buyers per purge transaction.
    #[serde(default = "default_purge_chunk")]
    #[validate(range(min = 1, max = 100000, message = "must be 1 to 100000"))]
    pub purge_chunk_leads: i64,
    /// How long a consumer's processed-message ledger entry is kept (`housekeeping`): longer
    /// than any redelivery of its message.
    #[serde(default = "default_ledger_retention")]
    #[validate(custom(function = "at_most_ten_years"))]
    pub ledger_retention_days: NonZeroU32,
    /// How long the operation log is kept (`housekeeping`); at least 180 days (China's
    /// Cybersecurity Law asks for six months), else the service refuses to start.
    #[serde(default = "default_operation_log_retention")]
    #[validate(custom(function = "at_most_ten_years"))]
    pub operation_log_retention_days: NonZeroU32,
    /// How long a reveal record is kept (`housekeeping`); at least 180 days, like the operation
    /// log that records the same reveals.
    #[serde(default = "default_reveal_record_retention")]
    #[validate(custom(function = "at_most_ten_years"))]
    pub reveal_record_retention_days: NonZeroU32,
    /// How long a sync record is kept (`housekeeping`): as long as the operation log that names
    /// it, by default. Backfills and running tasks are kept.
    #[serde(default = "default_sync_record_retention")]
    #[validate(custom(function = "at_most_ten_years"))]
    pub sync_record_retention_days: NonZeroU32,
    /// How often housekeeping deletes what is past its retention.
    #[serde(default = "default_housekeeping_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub housekeeping_interval_secs: u64,
    /// Rows per housekeeping delete statement (each its own transaction).
    #[serde(default = "default_housekeeping_batch")]
    pub housekeeping_batch: NonZeroU32,
}

impl Default for ProcessingSettings {
    fn default() -> Self {
        ProcessingSettings {
            pending_after_secs: default_pending_after(),
            sweep_interval_secs: default_sweep_interval(),
            sweep_batch_size: default_sweep_batch(),
            rescore_interval_ms: default_rescore_interval(),
            rescore_settle_ms: default_rescore_settle(),
            rescore_max_wait_secs: default_rescore_max_wait(),
            rescore_lease_secs: default_rescore_lease(),
            rescore_chunk_leads: default_rescore_chunk(),
            score_as_of: None,
            purge_interval_secs: default_purge_interval(),
            purge_chunk_leads: default_purge_chunk(),
            lapsed_shop_retention_days: default_lapsed_shop_retention(),
            ledger_retention_days: default_ledger_retention(),
            operation_log_retention_days: default_operation_log_retention(),
            sync_record_retention_days: default_sync_record_retention(),
            reveal_record_retention_days: default_reveal_record_retention(),
            housekeeping_interval_secs: default_housekeeping_interval(),
            housekeeping_batch: default_housekeeping_batch(),
        }
    }
}

fn default_pending_after() -> u64 {
    600
}
fn default_sweep_interval() -> u64 {
    30
}
fn default_sweep_batch() -> i64 {
    200
}
fn default_rescore_interval() -> u64 {
    1000
}
fn default_rescore_settle() -> u64 {
    2000
}
fn default_rescore_max_wait() -> u64 {
    60
}
fn default_rescore_lease() -> u64 {
    120
}
fn default_rescore_chunk() -> i64 {
    500
}
fn default_reveal_record_retention() -> NonZeroU32 {
    NonZeroU32::new(1_095).unwrap_or(NonZeroU32::MIN)
}
fn default_lapsed_shop_retention() -> NonZeroU32 {
    NonZeroU32::new(90).unwrap_or(NonZeroU32::MIN)
}
fn default_purge_interval() -> u64 {
    3600
}
fn default_purge_chunk() -> i64 {
    200
}
fn default_ledger_retention() -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(6)
}
fn default_operation_log_retention() -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(364)
}
fn default_sync_record_retention() -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(364)
}
fn default_housekeeping_interval() -> u64 {
    3600
}
fn default_housekeeping_batch() -> NonZeroU32 {
    NonZeroU32::MIN.saturating_add(4999)
}

/// A retention of at most 3,650 days: a longer one, meant as "forever", would overflow the date
/// it is counted back from.
fn at_most_ten_years(days: &NonZeroU32) -> Result<(), validator::ValidationError> {
    if days.get() <= 3_650 {
        Ok(())
    } else {
        Err(validator::ValidationError::new("range").with_message("must be 1 to 3650".into()))
    }
}
