//! [`Application`]: the consumer, the outbox relay and the health server, stopped by one token.

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
use crate::handler::RawOrdersHandler;
use crate::housekeeping::{Housekeeping, MIN_OPERATION_LOG_DAYS};
use crate::processor::Processor;
use crate::rescore::Rescore;
use crate::retention::Retention;
use crate::statistics::Statistics;
use crate::sweep::Sweep;

/// The queue this service consumes.
pub fn queue() -> QueueSpec {
    QueueSpec {
        consumer: SERVICE,
        routing_keys: vec![routing::ORDERS_FETCHED_V1],
    }
}

pub struct Application {
    port: u16,
    process: Process,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = leadgen_db::build_pool(&settings.database, SERVICE)?;
        let broker = Broker::connect(&settings.amqp, vec![queue()])
            .await
            .context("connecting to the broker")?;
        let sealer = leadgen_runtime::sealer(&settings.crypto).context("loading the data key")?;
        let indexer = leadgen_runtime::blind_indexer(&settings.crypto)
            .context("loading the blind-index key ([crypto] blind_index_key)")?;
        let processing = &settings.processing;
        let processor = Arc::new(Processor {
            sealer,
            indexer,
            as_of: processing.score_as_of,
            scorer: leadgen_scorer::Scorer::new(&settings.scorer)
                .context("configuring the external scorer ([scorer])")?
                .map(Arc::new),
        });
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
        let consume = ConsumeOptions::from_settings(SERVICE, &settings.amqp);
        let sweep = Sweep {
            pool: pool.clone(),
            processor: Arc::clone(&processor),
            pending_after: Duration::from_secs(processing.pending_after_secs),
            interval: Duration::from_secs(processing.sweep_interval_secs),
            batch_size: processing.sweep_batch_size,
            failures: Default::default(),
            last_tenant: Default::default(),
        };
        let rescore = Rescore {
            pool: pool.clone(),
            processor: Arc::clone(&processor),
            interval: Duration::from_millis(processing.rescore_interval_ms),
            settle: Duration::from_millis(processing.rescore_settle_ms),
            max_wait: Duration::from_secs(processing.rescore_max_wait_secs),
            lease: Duration::from_secs(processing.rescore_lease_secs),
            chunk: processing.rescore_chunk_leads,
            failures: Default::default(),
            stop: CancellationToken::new(),
        };
        let retention = Retention {
            pool: pool.clone(),
            processor: Arc::clone(&processor),
            interval: Duration::from_secs(processing.purge_interval_secs),
            chunk: processing.purge_chunk_leads,
            lapsed_days: processing.lapsed_shop_retention_days.get(),
        };
        anyhow::ensure!(
            processing.operation_log_retention_days.get() >= MIN_OPERATION_LOG_DAYS,
            "[processing] operation_log_retention_days must be at least {MIN_OPERATION_LOG_DAYS} \
             (six months of operation log, as China's Cybersecurity Law asks)"
        );
        anyhow::ensure!(
            processing.reveal_record_retention_days.get() >= MIN_OPERATION_LOG_DAYS,
            "[processing] reveal_record_retention_days must be at least {MIN_OPERATION_LOG_DAYS} \
             (the reveals are kept as long as the operation log that records them must be)"
        );
        let housekeeping = Housekeeping {
            pool: pool.clone(),
            interval: Duration::from_secs(processing.housekeeping_interval_secs),
            ledger_days: processing.ledger_retention_days,
            operation_log_days: processing.operation_log_retention_days,
            sync_record_days: processing.sync_record_retention_days,
            reveal_record_days: processing.reveal_record_retention_days,
            batch: processing.housekeeping_batch,
        };
        let statistics = Statistics { pool: pool.clone() };
        let background: Vec<Background> = vec![
            Background::new("pending_sweep", move |token| {
                sweep
                    .run(token)
                    .instrument(tracing::info_span!("pending_sweep"))
            }),
            Background::new("rescore", move |token| {
                rescore
                    .run(token)
                    .instrument(tracing::info_span!("rescore"))
            }),
            Background::new("retention_purge", move |token| {
                retention
                    .run(token)
                    .instrument(tracing::info_span!("retention_purge"))
            }),
            Background::new("housekeeping", move |token| {
                housekeeping
                    .run(token)
                    .instrument(tracing::info_span!("housekeeping"))
            }),
            Background::new("statistics", move |token| {
                statistics
                    .run(token)
                    .instrument(tracing::info_span!("statistics"))
            }),
        ];
        let process = Process {
            server,
            dependencies,
            relay: Some(Relay::new(
                pool.clone(),
                Arc::clone(&broker),
                SERVICE,
                settings.outbox.clone(),
            )),
            broker: Some(broker),
            consumer: Some((Arc::new(RawOrdersHandler { pool, processor }), consume)),
            background,
        };
        Ok(Application { port, process })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` fires (or the broker stays away too long, which is an error):
    /// stops consuming, lets in-flight work finish, flushes the relay, closes the broker.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
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
