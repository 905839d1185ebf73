//! [`Application`]: the consumer, the outbox relay, the scheduler and the health server, all
//! stopped by one shutdown token.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use leadgen_events::routing;
use leadgen_messaging::consumer::ConsumeOptions;
use leadgen_messaging::{Broker, QueueSpec};
use leadgen_outbox::Relay;
use leadgen_runtime::{Background, Dependencies, Process};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::SERVICE;
use crate::config::Settings;
use crate::handler::SyncRequestedHandler;
use crate::recovery::Recovery;
use crate::refresher::Refresher;
use crate::scheduler::Scheduler;
use crate::sync::{self, Syncer};

/// The queue this service consumes.
pub fn queue() -> QueueSpec {
    QueueSpec {
        consumer: SERVICE,
        routing_keys: vec![routing::SYNC_REQUESTED_V1],
    }
}

pub struct Application {
    port: u16,
    process: Process,
    /// The walks' stop ([`Syncer::stop`]), fired with the process's shutdown token.
    stop: CancellationToken,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        crate::sync::outcome::register_finished();
        let pool = leadgen_db::build_pool(&settings.database, SERVICE)?;
        let broker = Broker::connect(&settings.amqp, vec![queue()])
            .await
            .context("connecting to the broker")?;
        let sealer = leadgen_runtime::sealer(&settings.crypto).context("loading the data key")?;
        let platforms = leadgen_runtime::platform_registry(&settings.platforms, &pool)?;
        let stop = CancellationToken::new();
        let syncer = Syncer {
            pool: pool.clone(),
            sealer: Arc::clone(&sealer),
            platforms: platforms.clone(),
            policy: sync::policy(
                settings.sync.max_retries,
                Duration::from_millis(settings.sync.max_backoff_ms),
                Duration::from_secs(u64::try_from(settings.sync.lease_secs).unwrap_or(0)),
            ),
            lease: chrono::Duration::seconds(settings.sync.lease_secs),
            stop: stop.clone(),
            announce_orders: settings.sync.announce_orders,
        };
        let dependencies = Arc::new(Dependencies::new(
            pool.clone(),
            Some(Arc::clone(&broker)),
            true,
        ));
        let listener =
            leadgen_http::server::bind(&settings.http).context("binding the HTTP port")?;
        let port = listener.local_addr()?.port();
        let server = leadgen_http::server::serve(
            listener,
            Arc::clone(&dependencies) as Arc<dyn leadgen_http::server::Readiness>,
            &settings.http,
            |_| {},
        )?;
        let scheduler = settings.sync.scheduler_enabled.then(|| Scheduler {
            pool: pool.clone(),
            interval_minutes: settings.sync.schedule_interval_minutes,
            tick: Duration::from_secs(settings.sync.scheduler_tick_secs),
            settle: chrono::Duration::seconds(settings.sync.settle_seconds),
        });
        let consume = ConsumeOptions::from_settings(SERVICE, &settings.amqp);
        let recovery = Recovery {
            pool: pool.clone(),
            lease: chrono::Duration::seconds(settings.sync.lease_secs),
            max_attempts: settings.sync.max_attempts,
            interval: Duration::from_secs(settings.sync.recovery_interval_secs),
        };
        let refresher = Refresher {
            pool: pool.clone(),
            sealer,
            platforms,
            policy: syncer.policy,
            ahead: chrono::Duration::minutes(settings.sync.token_refresh_ahead_minutes),
            interval: Duration::from_secs(settings.sync.token_refresh_interval_secs),
            give_up: chrono::Duration::hours(settings.sync.token_refresh_give_up_hours),
            failed: std::sync::Mutex::default(),
        };
        let mut background: Vec<Background> = vec![
            Background::new("recovery", move |token| {
                recovery
                    .run(token)
                    .instrument(tracing::info_span!("recovery"))
            }),
            Background::new("token_refresh", move |token| {
                refresher
                    .run(token)
                    .instrument(tracing::info_span!("token_refresh"))
            }),
        ];
        if let Some(scheduler) = scheduler {
            background.push(Background::new("scheduler", move |token| {
                scheduler
                    .run(token)
                    .instrument(tracing::info_span!("scheduler"))
            }));
        }
        let process = Process {
            server,
            dependencies,
            relay: Some(Relay::new(
                pool,
                Arc::clone(&broker),
                SERVICE,
                settings.outbox.clone(),
            )),
            broker: Some(broker),
            consumer: Some((
                Arc::new(SyncRequestedHandler {
                    syncer,
                    ack_after: Duration::from_secs(settings.sync.ack_after_secs),
                    room: crate::handler::Room::new(
                        settings.sync.max_running,
                        Duration::from_secs(settings.sync.defer_after_secs),
                    )
                    .with_per_tenant(settings.sync.max_running_per_tenant),
                }),
                consume,
            )),
            background,
        };
        Ok(Application {
            port,
            process,
            stop,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` fires (or the broker stays away too long, which is an error):
    /// stops consuming, stops the running syncs at their next page and hands them on, flushes
    /// the relay, closes the broker.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (stop, stopping) = (self.stop, shutdown.clone());
        tokio::spawn(async move {
            stopping.cancelled().await;
            stop.cancel();
        });
        Ok(self.process.run_until_stopped(shutdown).await?)
    }
}

#[cfg(test)]
mod tests {
    /// Operators import `deploy/rabbitmq/definitions.json`, and the KEDA ScaledObject scales
    /// on the queue it names: it holds this service's queue as the code declares it.
    #[test]
    fn the_committed_broker_definitions_hold_this_services_queue() {
        let drift = leadgen_test_support::rabbitmq::committed_definitions_drift(&[super::queue()]);
        assert!(
            drift.is_empty(),
            "deploy/rabbitmq/definitions.json: {drift:#?}"
        );
    }
}
