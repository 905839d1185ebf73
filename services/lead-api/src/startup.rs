//! lead-api's configuration and [`Application`]: the HTTP server, the outbox relay that
//! publishes `LeadUpdated`, and the broker connection, stopped by one token.

use std::sync::Arc;

use actix_web::web;
use anyhow::Context as _;
use leadgen_crypto::BlindIndexer;
use leadgen_db::DbPool;
use leadgen_http::JwtVerifier;
use leadgen_http::server::Readiness;
use leadgen_messaging::Broker;
use leadgen_outbox::Relay;
use leadgen_runtime::{Dependencies, Process};
use leadgen_settings::{
    AmqpSettings, AuthSettings, CryptoSettings, DatabaseSettings, HttpSettings, OutboxSettings,
    TelemetrySettings,
};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::{SERVICE, routes};

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub http: HttpSettings,
    pub database: DatabaseSettings,
    pub telemetry: TelemetrySettings,
    pub auth: AuthSettings,
    /// The broker `LeadUpdated` goes out on (through the outbox).
    pub amqp: AmqpSettings,
    #[serde(default)]
    pub outbox: OutboxSettings,
    /// The blind-index key (search by phone); the data key is not used here.
    pub crypto: CryptoSettings,
}

pub struct AppState {
    pub pool: DbPool,
    /// Finds a buyer by phone without storing or scanning phones.
    pub indexer: Arc<BlindIndexer>,
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
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            indexer,
        });
        let verifier = web::Data::new(JwtVerifier::from_settings(&settings.auth)?);
        let broker = Broker::connect(&settings.amqp, Vec::new())
            .await
            .context("connecting to the broker")?;
        let readiness: Arc<dyn Readiness> = Arc::new(Dependencies {
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
            move |cfg| {
                cfg.app_data(state.clone()).app_data(verifier.clone());
                routes::configure(cfg);
            },
        )?;
        let relay = Relay::new(pool, Arc::clone(&broker), SERVICE, settings.outbox.clone());
        let process = Process {
            server,
            broker: Some(broker),
            relay: Some(relay),
            consumer: None,
            background: Vec::new(),
        };
        Ok(Application { port, process })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        Ok(self.process.run_until_stopped(shutdown).await?)
    }
}
