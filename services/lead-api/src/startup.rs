//! lead-api's [`Application`]: the HTTP server, the outbox relay that
//! publishes `LeadUpdated`, the task that keeps the list's statistics fresh, and the broker
//! connection, stopped by one token.

use std::sync::Arc;

use actix_web::web;
use anyhow::Context as _;
use leadgen_crypto::{BlindIndexer, Sealer};
use leadgen_db::DbPool;
use leadgen_http::JwtVerifier;
use leadgen_http::server::Readiness;
use leadgen_messaging::Broker;
use leadgen_outbox::Relay;
use leadgen_platforms::Registry;
use leadgen_platforms::resilience::RetryPolicy;
use leadgen_runtime::{Background, Dependencies, Process};
use tokio_util::sync::CancellationToken;

use crate::config::{RevealSettings, Settings};
use crate::repo::leads::{ListStats, STATS_TTL};
use crate::{SERVICE, routes};

pub struct AppState {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub policy: RetryPolicy,
    pub reveal: RevealSettings,
    /// Finds a buyer by phone without storing or scanning phones.
    pub indexer: Arc<BlindIndexer>,
    /// What the list's choice of statement reads from the planner's statistics, kept fresh
    /// by a background task.
    pub list_stats: Arc<ListStats>,
    /// Each tenant's reveals in flight, bounded.
    pub reveal_slots: crate::service::slots::TenantSlots,
    /// The reveals' platform calls, each on a task of its own (it outlives a salesperson who
    /// stopped waiting): a stopping process waits for them, so a refreshed token is stored and
    /// a reveal's outcome kept before it exits.
    pub reveal_calls: tokio_util::task::TaskTracker,
}

pub struct Application {
    port: u16,
    process: Process,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = leadgen_db::build_pool(&settings.database, SERVICE)?;
        let indexer = leadgen_runtime::blind_indexer(&settings.crypto)
            .context("loading the blind-index key ([crypto] blind_index_key)")?;
        let sealer = leadgen_runtime::sealer(&settings.crypto).context("loading the data key")?;
        let platforms = leadgen_runtime::platform_registry(&settings.platforms, &pool)?;
        let policy = RetryPolicy {
            max_retries: settings.reveal.max_retries,
            min_delay: std::time::Duration::from_millis(200),
            max_delay: std::time::Duration::from_millis(settings.reveal.max_backoff_ms),
            // A salesperson is waiting: a stated wait is honoured as a backoff would be.
            max_stated_wait: std::time::Duration::from_millis(
                settings.reveal.max_backoff_ms
                    * u64::try_from(settings.reveal.max_retries).unwrap_or(u64::MAX),
            ),
        };
        let list_stats = Arc::new(ListStats::default());
        let reveal_calls = tokio_util::task::TaskTracker::new();
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            sealer,
            platforms,
            policy,
            reveal: settings.reveal.clone(),
            indexer,
            list_stats: Arc::clone(&list_stats),
            reveal_slots: crate::service::slots::TenantSlots::new(
                settings.reveal.per_tenant_concurrency,
                std::time::Duration::from_millis(settings.reveal.busy_wait_ms),
            ),
            reveal_calls: reveal_calls.clone(),
        });
        let verifier = web::Data::new(JwtVerifier::from_settings(&settings.auth)?);
        let broker = Broker::connect_or_later(&settings.amqp).await;
        let dependencies = Arc::new(Dependencies::new(
            pool.clone(),
            Some(Arc::clone(&broker)),
            false,
        ));
        let listener =
            leadgen_http::server::bind(&settings.http).context("binding the HTTP port")?;
        let port = listener.local_addr()?.port();
        let server = leadgen_http::server::serve(
            listener,
            Arc::clone(&dependencies) as Arc<dyn Readiness>,
            &settings.http,
            move |cfg| {
                cfg.app_data(state.clone()).app_data(verifier.clone());
                routes::configure(cfg);
            },
        )?;
        let relay = Relay::new(
            pool.clone(),
            Arc::clone(&broker),
            SERVICE,
            settings.outbox.clone(),
        );
        let process = Process {
            server,
            dependencies,
            broker: Some(broker),
            relay: Some(relay),
            consumer: None,
            background: vec![
                Background::new("lead_list_stats", move |stop| {
                    list_stats.keep_fresh(pool, STATS_TTL, stop)
                }),
                Background::new("reveal_calls", move |stop| async move {
                    stop.cancelled().await;
                    reveal_calls.close();
                    if !reveal_calls.is_empty() {
                        tracing::info!(
                            calls = reveal_calls.len(),
                            "Waiting for reveals' platform calls to end"
                        );
                    }
                    reveal_calls.wait().await;
                }),
            ],
        };
        Ok(Application { port, process })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// This process without its outbox relay: the events it writes stay in `t_outbox` for
    /// another process to publish (tests that read what a request wrote there).
    pub fn without_relay(mut self) -> Self {
        self.process.relay = None;
        self
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        Ok(self.process.run_until_stopped(shutdown).await?)
    }
}
