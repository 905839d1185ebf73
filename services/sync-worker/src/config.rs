//! sync-worker's configuration.

use leadgen_settings::{
    AmqpSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings,
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
    pub crypto: CryptoSettings,
    #[validate(nested)]
    pub platforms: PlatformsSettings,
    #[serde(default)]
    #[validate(nested)]
    pub outbox: OutboxSettings,
    #[serde(default)]
    #[validate(nested)]
    pub sync: SyncSettings,
}

/// `[sync]`
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "defer_within_lease"))]
pub struct SyncSettings {
    /// Run scheduled syncs.
    #[serde(default = "yes")]
    pub scheduler_enabled: bool,
    /// A platform is synced again when its last sync is older than this.
    #[serde(default = "default_interval")]
    #[validate(range(
        min = 0,
        max = 10080,
        message = "must be 0 to 10080 (0: every tick, for tests)"
    ))]
    pub schedule_interval_minutes: i64,
    /// A scheduled sync's window ends this many seconds before now, so no order enters a window
    /// while it is walked.
    #[serde(default = "default_settle")]
    #[validate(range(min = 0, max = 3600, message = "must be 0 to 3600"))]
    pub settle_seconds: i64,
    /// How often the scheduler looks for due platforms.
    #[serde(default = "default_tick")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub scheduler_tick_secs: u64,
    /// Retries of one platform call after the first attempt (throttling, 5xx, malformed pages).
    #[serde(default = "default_retries")]
    pub max_retries: usize,
    /// Upper bound of one backoff wait.
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// A running task's lease: renewed with every page; a task whose lease expired (its worker
    /// is gone) or that never started within it (its request was lost) is resumed.
    #[serde(default = "default_lease")]
    #[validate(range(
        min = 10,
        max = 86400,
        message = "must be 10 to 86400 (three leases cover a page with its retries)"
    ))]
    pub lease_secs: i64,
    /// A task is resumed at most this many times in all (then it fails with the reason).
    #[serde(default = "default_max_attempts")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub max_attempts: i32,
    /// How often recovery looks for expired leases.
    #[serde(default = "default_recovery_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub recovery_interval_secs: u64,
    /// A sync still running after this long acknowledges its request, and its claim and lease
    /// answer for it from then on: under the broker's `consumer_timeout` (RabbitMQ's default
    /// 30 minutes), past which the broker closes the channel and redelivers every request in
    /// flight on it, to be taken over mid-walk and dead-lettered in the end. Until then a worker
    /// that dies has its request redelivered at once.
    #[serde(default = "default_ack_after")]
    #[validate(range(
        min = 1,
        max = 1799,
        message = "must be 1 to 1799: under RabbitMQ's consumer_timeout (30 minutes)"
    ))]
    pub ack_after_secs: u64,
    /// Syncs one process runs at once, those acknowledged early included: each holds page
    /// batches in memory and takes the pool's connections, and early acknowledgements would
    /// otherwise let a wave of long backfills grow without bound.
    #[serde(default = "default_max_running")]
    pub max_running: usize,
    /// Syncs one tenant runs at once across every replica: a merchant backfilling many shops
    /// at once leaves the other places to the other tenants' syncs.
    #[serde(default = "default_max_running_per_tenant")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub max_running_per_tenant: usize,
    /// How long a request waits for room among [`SyncSettings::max_running`] before it goes
    /// back to the queue, for a replica with room (KEDA scales on the queue's depth); and how
    /// much later a request over its tenant's share is published again.
    #[serde(default = "default_defer_after")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub defer_after_secs: u64,
    /// Refresh a shop's access token this many minutes before it expires (under an hour:
    /// Douyin answers the same pair while more than an hour is left).
    #[serde(default = "default_refresh_ahead")]
    #[validate(range(
        min = 1,
        max = 59,
        message = "must be 1 to 59 (Douyin answers the same pair while an hour is left)"
    ))]
    pub token_refresh_ahead_minutes: i64,
    /// How often the token refresher looks for expiring tokens.
    #[serde(default = "default_refresh_interval")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub token_refresh_interval_secs: u64,
    /// A shop whose refresh keeps failing (not refused: an error the platform documents
    /// nowhere, or the platform down) is EXPIRED this many hours after its access token expired,
    /// so the merchant is told to authorize again.
    #[serde(default = "default_refresh_give_up")]
    #[validate(range(min = 0, max = 8760, message = "must be 0 to 8760"))]
    pub token_refresh_give_up_hours: i64,
    /// Stored orders named per `RawOrdersFetched`: a run announces its pages' new and changed
    /// orders once they reach this many (and the rest when it ends), so that order-processor
    /// processes a backfill in batches of several pages. 1 announces every page.
    #[serde(default = "default_announce_orders")]
    #[validate(range(min = 1, message = "must be at least 1"))]
    pub announce_orders: usize,
}

impl Default for SyncSettings {
    fn default() -> Self {
        SyncSettings {
            scheduler_enabled: yes(),
            schedule_interval_minutes: default_interval(),
            settle_seconds: default_settle(),
            scheduler_tick_secs: default_tick(),
            max_retries: default_retries(),
            max_backoff_ms: default_max_backoff_ms(),
            lease_secs: default_lease(),
            max_attempts: default_max_attempts(),
            recovery_interval_secs: default_recovery_interval(),
            ack_after_secs: default_ack_after(),
            max_running: default_max_running(),
            max_running_per_tenant: default_max_running_per_tenant(),
            defer_after_secs: default_defer_after(),
            token_refresh_ahead_minutes: default_refresh_ahead(),
            token_refresh_interval_secs: default_refresh_interval(),
            token_refresh_give_up_hours: default_refresh_give_up(),
            announce_orders: default_announce_orders(),
        }
    }
}

fn default_refresh_give_up() -> i64 {
    24
}

fn default_announce_orders() -> usize {
    500
}

fn yes() -> bool {
    true
}
fn default_interval() -> i64 {
    30
}
fn default_settle() -> i64 {
    120
}
fn default_refresh_ahead() -> i64 {
    30
}
fn default_refresh_interval() -> u64 {
    300
}
fn default_lease() -> i64 {
    600
}
fn default_max_attempts() -> i32 {
    3
}
fn default_recovery_interval() -> u64 {
    60
}
fn default_ack_after() -> u64 {
    20 * 60
}
fn default_max_running() -> usize {
    8
}
fn default_max_running_per_tenant() -> usize {
    4
}
fn default_defer_after() -> u64 {
    60
}
fn default_tick() -> u64 {
    60
}
fn default_retries() -> usize {
    6
}
fn default_max_backoff_ms() -> u64 {
    20_000
}

/// A deferred request keeps its task's lease until it comes back `defer_after_secs` later: a
/// lease no longer than that would run out first, and recovery send a second request.
fn defer_within_lease(sync: &SyncSettings) -> Result<(), validator::ValidationError> {
    if i64::try_from(sync.defer_after_secs).unwrap_or(i64::MAX) < sync.lease_secs {
        return Ok(());
    }
    let mut e = validator::ValidationError::new("defer_after_secs");
    e.message = Some(
        "defer_after_secs must be less than lease_secs: a deferred request keeps its task's \
         lease until it comes back"
            .into(),
    );
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deferral_longer_than_the_lease_is_refused() {
        let sync = |defer: u64, lease: i64| -> SyncSettings {
            serde_json::from_value(serde_json::json!({
                "defer_after_secs": defer,
                "lease_secs": lease,
            }))
            .unwrap()
        };
        assert!(sync(60, 600).validate().is_ok());
        let refused = sync(600, 600).validate().unwrap_err().to_string();
        assert!(refused.contains("less than lease_secs"), "{refused}");
    }

    /// A process configured by `LEADGEN__*` variables alone has no `[sync]` table: it gets the
    /// same defaults as an empty one.
    #[test]
    fn no_sync_table_means_an_empty_ones_defaults() {
        let empty: SyncSettings = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(
            format!("{empty:?}"),
            format!("{:?}", SyncSettings::default())
        );
    }
}
