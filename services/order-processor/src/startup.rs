//! [`Application`]: the consumer, the outbox relay and the health server, stopped by one token.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use leadgen_events::routing;
use leadgen_messaging::consumer::ConsumeOptions;
use leadgen_messaging::{Broker, QueueSpec};
use leadgen_outbox::Relay;
use leadgen_runtime::{Dependencies, Process};
use tokio_util::sync::CancellationToken;

use crate::SERVICE;
use crate::config::Settings;
use crate::handler::RawOrdersHandler;

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
        let readiness = Arc::new(Dependencies {
            pool: pool.clone(),
            broker: Some(Arc::clone(&broker)),
        });
        let listener =
            leadgen_http::server::bind(&settings.http).context("binding the HTTP port")?;
        let port = listener.local_addr()?.port();
        let server = leadgen_http::server::serve(
            listener,
            readiness,
            settings.http.shutdown_timeout_secs,
            |_| {},
        )?;
        let consume = ConsumeOptions {
            consumer: SERVICE,
            prefetch: settings.amqp.prefetch,
            delivery_limit: settings.amqp.delivery_limit,
            give_up_after: Duration::from_secs(settings.processing.broker_give_up_secs),
        };
        let process = Process {
            server,
            relay: Some(Relay::new(
                pool.clone(),
                Arc::clone(&broker),
                SERVICE,
                settings.outbox.clone(),
            )),
            broker: Some(broker),
            consumer: Some((Arc::new(RawOrdersHandler { pool, sealer }), consume)),
            background: Vec::new(),
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
