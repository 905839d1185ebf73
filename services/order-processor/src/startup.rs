//! [`Application`]: the consumer, the outbox relay and the health server, stopped by one token.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use anyhow::Context as _;
use leadgen_events::routing;
use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, QueueSpec};
use leadgen_outbox::Relay;
use leadgen_runtime::Dependencies;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

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
    server: Server,
    relay: Relay,
    broker: Arc<Broker>,
    handler: Arc<RawOrdersHandler>,
    consume: ConsumeOptions,
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
        let server = leadgen_http::server::health_server(
            listener,
            readiness,
            settings.http.shutdown_timeout_secs,
        )?;
        Ok(Application {
            port,
            server,
            relay: Relay::new(
                pool.clone(),
                Arc::clone(&broker),
                SERVICE,
                settings.outbox.clone(),
            ),
            broker,
            handler: Arc::new(RawOrdersHandler { pool, sealer }),
            consume: ConsumeOptions {
                consumer: SERVICE,
                prefetch: settings.amqp.prefetch,
                delivery_limit: settings.amqp.delivery_limit,
                give_up_after: Duration::from_secs(settings.processing.broker_give_up_secs),
            },
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` fires (or the broker stays away too long, which is an error).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(
            self.relay
                .run(shutdown.clone())
                .instrument(tracing::info_span!("outbox_relay")),
        );
        let server = tokio::spawn(leadgen_http::server::run_until_stopped(
            self.server,
            shutdown.clone(),
        ));
        let consumed = consumer::run(
            Arc::clone(&self.broker),
            self.handler,
            self.consume,
            shutdown.clone(),
        )
        .instrument(tracing::info_span!("consumer"))
        .await;
        shutdown.cancel();
        relay.await.context("outbox relay task")?;
        server
            .await
            .context("health server task")?
            .context("health server")?;
        self.broker.close().await;
        consumed.context("consuming RawOrdersFetched")
    }
}
