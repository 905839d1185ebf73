//! Process wiring the four services share, so each `main` stays a few lines: the shutdown
//! token driven by SIGTERM/SIGINT, [`Process`] (what a service runs and how it stops), the
//! readiness of the database and the broker, and the shared clients built from settings (the
//! sealer and the platform registry, whose per-app call rate is shared across replicas through
//! PostgreSQL by [`PgRateGate`] on `t_platform_call_slot`).

mod process;

pub use process::{Background, Process, RunError};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadgen_crypto::{BlindIndexer, CryptoError, Sealer};
use leadgen_db::DbPool;
use leadgen_domain::PlatformType;
use leadgen_http::server::{Check, Readiness};
use leadgen_messaging::Broker;
use leadgen_platforms::Registry;
use leadgen_platforms::registry::Endpoint;
use leadgen_platforms::resilience::{NoSlot, SharedGate, Slot};
use leadgen_settings::{CryptoSettings, PlatformEndpoint, PlatformsSettings};
use tokio_util::sync::CancellationToken;

/// A token cancelled on the first SIGTERM or SIGINT.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("Shutdown requested; finishing in-flight work");
        trigger.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

/// What `/readyz` checks: the database, its schema, and the broker.
///
/// The database is required, and so is its schema: a process built after a migration serves
/// nothing until `leadctl migrate` has applied it ([`leadgen_db::schema_current`]). The broker
/// is required only where the process cannot work without it (`needs_broker`: the consumers).
/// An API writes its events to the outbox, which the relay publishes once the broker is back:
/// a broker restart must not take every API replica out of its Service at once.
pub struct Dependencies {
    pub pool: DbPool,
    pub broker: Option<Arc<Broker>>,
    pub needs_broker: bool,
    /// Set once the schema was seen current (it never goes back).
    schema_current: std::sync::atomic::AtomicBool,
}

impl Dependencies {
    pub fn new(pool: DbPool, broker: Option<Arc<Broker>>, needs_broker: bool) -> Self {
        Dependencies {
            pool,
            broker,
            needs_broker,
            schema_current: std::sync::atomic::AtomicBool::new(false),
        }
    }

    async fn schema(&self) -> bool {
        use std::sync::atomic::Ordering;
        if self.schema_current.load(Ordering::Relaxed) {
            return true;
        }
        let current = leadgen_db::schema_current(&self.pool)
            .await
            .is_ok_and(|current| current);
        self.schema_current.fetch_or(current, Ordering::Relaxed);
        current
    }

    /// Checks the dependencies every `every` until `shutdown` (`leadgen_dependency_up`), so the
    /// gauge is fresh whether or not anything probes `/readyz`.
    pub async fn watch(self: Arc<Self>, every: Duration, shutdown: CancellationToken) {
        loop {
            self.check().await;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
        }
    }
}

#[async_trait::async_trait]
impl Readiness for Dependencies {
    async fn check(&self) -> Vec<Check> {
        leadgen_db::record_pool_status(&self.pool);
        let database = leadgen_db::ping(&self.pool).await;
        let mut checks = vec![Check {
            name: "database",
            up: database,
            required: true,
        }];
        // Only a database that answers can say whether it holds the schema: while it does not,
        // the schema is not reported (nor its gauge moved), so that an outage does not also
        // read as a missing migration (`LeadgenDependencyDown{dependency="schema"}` sends the
        // operator to `leadctl migrate`).
        if database {
            checks.push(Check {
                name: "schema",
                up: self.schema().await,
                required: true,
            });
        }
        if let Some(broker) = &self.broker {
            let up = broker.is_connected().await;
            if broker.receiving_is_up().await {
                broker.record_queue_depths().await;
            }
            checks.push(Check {
                name: "broker",
                up,
                required: self.needs_broker,
            });
        }
        for check in &checks {
            metrics::gauge!("leadgen_dependency_up", "dependency" => check.name).set(if check.up {
                1.0
            } else {
                0.0
            });
        }
        checks
    }
}

/// Waits until the database holds this build's newest migration, or `shutdown` fires; `true`
/// when it does. Workers call it before they take a message or run a job: a missing column
/// would fail every delivery, and each redelivery counts against the queue's limit.
pub async fn wait_for_schema(pool: &DbPool, shutdown: &CancellationToken) -> bool {
    let mut waited = 0u32;
    loop {
        let current = leadgen_db::schema_current(pool).await;
        if matches!(current, Ok(true)) {
            return true;
        }
        if waited.is_multiple_of(15) {
            let migration = leadgen_db::newest_migration();
            match current {
                Err(e) => tracing::warn!(
                    migration,
                    error = %e,
                    "Cannot read the database's migrations (is it reachable, and migrated at all?); waiting"
                ),
                Ok(_) => tracing::warn!(
                    migration,
                    "The database lacks this build's newest migration; waiting for `leadctl migrate`"
                ),
            }
        }
        waited += 1;
        tokio::select! {
            () = shutdown.cancelled() => return false,
            () = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

/// The sealer for secrets and personal data.
pub fn sealer(settings: &CryptoSettings) -> Result<Arc<Sealer>, CryptoError> {
    Sealer::new(settings.key_id, &settings.data_key, &settings.previous_keys).map(Arc::new)
}

/// The blind indexer; an error when `[crypto] blind_index_key` is not configured, or when one
/// of its keys is also a data key (current or previous).
pub fn blind_indexer(settings: &CryptoSettings) -> Result<Arc<BlindIndexer>, CryptoError> {
    let key = settings
        .blind_index_key
        .as_ref()
        .ok_or(CryptoError::MissingKey(
            "[crypto] blind_index_key (LEADGEN__CRYPTO__BLIND_INDEX_KEY)",
        ))?;
    if leadgen_crypto::share_a_key(
        (key, &settings.blind_index_previous_keys),
        (&settings.data_key, &settings.previous_keys),
    ) {
        return Err(CryptoError::SharedKey);
    }
    BlindIndexer::new(
        settings.blind_index_key_id,
        key,
        &settings.blind_index_previous_keys,
    )
    .map(Arc::new)
}

fn endpoint(e: &PlatformEndpoint) -> Endpoint {
    Endpoint {
        api_url: e.api_url.clone(),
        authorize_url: e.authorize_url.clone(),
        token_url: e.token_url.clone(),
        qps: e.qps,
        timeout: Duration::from_millis(e.timeout_ms),
    }
}

/// The platform adapters for the configured endpoints; with `[platforms] shared_rate_limit`,
/// their calls are spaced through `pool` ([`PgRateGate`]) together with every other replica's.
pub fn platform_registry(
    settings: &PlatformsSettings,
    pool: &DbPool,
) -> Result<Registry, reqwest::Error> {
    let endpoints: HashMap<PlatformType, Endpoint> = settings
        .endpoints
        .iter()
        .map(|(p, e)| (*p, endpoint(e)))
        .collect();
    let gate: Option<Arc<dyn SharedGate>> = settings
        .shared_rate_limit
        .then(|| Arc::new(PgRateGate { pool: pool.clone() }) as Arc<dyn SharedGate>);
    // Created at 0 in every process that may refresh a shop's tokens, so that its first failed
    // store is an increase LeadgenTokenStoreFailing sees (a series first seen at 1 is none).
    metrics::counter!("leadgen_token_store_failures_total").increment(0);
    Registry::from_endpoints(&endpoints, gate)
}

/// The platforms' per-app quotas kept across replicas: each call reserves its slot in
/// `t_platform_call_slot` in one statement (the database's clock decides, so the replicas'
/// clocks do not matter) and waits until it, unless a ban one replica learnt holds it
/// (`t_platform_call_hold`, read by the same statement).
pub struct PgRateGate {
    pub pool: DbPool,
}

/// A slot as the database reserved it.
#[derive(Debug, Clone, Copy)]
pub struct Reserved {
    pub slot: Slot,
    /// When the slot opens, in seconds since the epoch on the database's clock: the one clock
    /// every replica's slots are spaced on.
    pub at_epoch: f64,
}

impl PgRateGate {
    /// Reserves the next slot of `key` for a call of `api`, `interval` after the previous one of
    /// any replica, unless a hold on the key's calls of `api` or of every API (`*`) lasts
    /// ([`NoSlot::Held`]) or the key's slots already reach more than `max_ahead` ahead
    /// ([`NoSlot::Full`]); either way nothing is reserved.
    pub async fn reserve_slot(
        &self,
        key: &str,
        api: &str,
        interval: Duration,
        max_ahead: Duration,
    ) -> Result<Reserved, NoSlot> {
        use diesel::OptionalExtension as _;
        use diesel::sql_types::{Double, Nullable, Text};
        use diesel_async::RunQueryDsl as _;
        #[derive(diesel::QueryableByName)]
        struct Answer {
            #[diesel(sql_type = Nullable<Double>)]
            wait_secs: Option<f64>,
            #[diesel(sql_type = Nullable<Double>)]
            at_epoch: Option<f64>,
            #[diesel(sql_type = Nullable<Double>)]
            held_secs: Option<f64>,
            #[diesel(sql_type = Nullable<Double>)]
            hold_secs: Option<f64>,
            #[diesel(sql_type = Nullable<Text>)]
            said: Option<String>,
        }
        let mut conn = leadgen_db::conn(&self.pool)
            .await
            .map_err(|e| NoSlot::Unavailable(e.to_string()))?;
        let asked = tokio::time::Instant::now();
        let answer: Option<Answer> = diesel::sql_query(
            "WITH held AS ( \
               SELECT extract(epoch FROM until - clock_timestamp())::float8 AS held_secs, \
                      hold_secs, said \
               FROM t_platform_call_hold \
               WHERE rate_key = $1 AND api IN ($4, '*') AND until > clock_timestamp() \
               ORDER BY until DESC LIMIT 1), \
             slot AS ( \
               INSERT INTO t_platform_call_slot AS s (rate_key, next_at) \
               SELECT $1, clock_timestamp() + make_interval(secs => $2) \
               WHERE NOT EXISTS (SELECT 1 FROM held) \
               ON CONFLICT (rate_key) DO UPDATE \
                 SET next_at = greatest(s.next_at, clock_timestamp()) + make_interval(secs => $2) \
                 WHERE s.next_at <= clock_timestamp() + make_interval(secs => $3) \
               RETURNING greatest(extract(epoch FROM s.next_at - make_interval(secs => $2) \
                                                    - clock_timestamp()), 0)::float8 AS wait_secs, \
                         extract(epoch FROM s.next_at - make_interval(secs => $2))::float8 \
                             AS at_epoch) \
             SELECT wait_secs, at_epoch, NULL::float8 AS held_secs, NULL::float8 AS hold_secs, \
                    NULL::text AS said FROM slot \
             UNION ALL SELECT NULL, NULL, held_secs, hold_secs, said FROM held",
        )
        .bind::<Text, _>(key)
        .bind::<Double, _>(interval.as_secs_f64())
        .bind::<Double, _>(max_ahead.as_secs_f64())
        .bind::<Text, _>(api)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(|e| NoSlot::Unavailable(e.to_string()))?;
        match answer.ok_or(NoSlot::Full)? {
            Answer {
                held_secs: Some(left),
                hold_secs,
                said,
                ..
            } => Err(NoSlot::Held {
                left: Duration::from_secs_f64(left.max(0.0)),
                length: Duration::from_secs_f64(hold_secs.unwrap_or(left).max(0.0)),
                said: said.unwrap_or_default(),
            }),
            Answer {
                wait_secs: Some(wait),
                at_epoch: Some(at_epoch),
                ..
            } => Ok(Reserved {
                slot: Slot {
                    wait: Duration::from_secs_f64(wait.max(0.0)),
                    asked,
                },
                at_epoch,
            }),
            _ => Err(NoSlot::Full),
        }
    }

    /// Holds `key`'s calls of `api` (`*`: every API) for `hold` from now on the database's
    /// clock, with what the platform said; a hold lasting longer stays as it is.
    pub async fn hold_calls(
        &self,
        key: &str,
        api: &str,
        hold: Duration,
        said: &str,
    ) -> Result<(), String> {
        use diesel::sql_types::{Double, Text};
        use diesel_async::RunQueryDsl as _;
        let mut conn = leadgen_db::conn(&self.pool)
            .await
            .map_err(|e| e.to_string())?;
        diesel::sql_query(
            "INSERT INTO t_platform_call_hold AS h (rate_key, api, until, hold_secs, said) \
             VALUES ($1, $2, clock_timestamp() + make_interval(secs => $3), $3, $4) \
             ON CONFLICT (rate_key, api) DO UPDATE \
               SET until = excluded.until, hold_secs = excluded.hold_secs, said = excluded.said \
               WHERE h.until < excluded.until",
        )
        .bind::<Text, _>(key)
        .bind::<Text, _>(api)
        .bind::<Double, _>(hold.as_secs_f64())
        .bind::<Text, _>(said)
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }
}

#[async_trait::async_trait]
impl SharedGate for PgRateGate {
    async fn reserve(
        &self,
        key: &str,
        api: &str,
        interval: Duration,
        max_ahead: Duration,
    ) -> Result<Slot, NoSlot> {
        self.reserve_slot(key, api, interval, max_ahead)
            .await
            .map(|r| r.slot)
    }

    async fn hold(&self, key: &str, api: &str, hold: Duration, said: &str) -> Result<(), String> {
        self.hold_calls(key, api, hold, said).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blind_index_key_that_is_also_a_data_key_is_refused() {
        let distinct = leadgen_test_support::crypto_settings();
        assert!(blind_indexer(&distinct).is_ok());
        let mut same = distinct.clone();
        same.blind_index_key = Some(distinct.data_key.clone());
        assert!(matches!(blind_indexer(&same), Err(CryptoError::SharedKey)));
        let mut retired = distinct.clone();
        retired.previous_keys = vec![secrecy::SecretString::from(format!(
            "9:{}",
            distinct
                .blind_index_key
                .as_ref()
                .map(secrecy::ExposeSecret::expose_secret)
                .unwrap_or_default()
        ))];
        assert!(matches!(
            blind_indexer(&retired),
            Err(CryptoError::SharedKey)
        ));
    }
}
