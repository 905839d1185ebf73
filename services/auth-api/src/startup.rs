//! [`Application`]: built from settings, owns its bound listener (port `0` in tests), the outbox
//! relay and the broker connection; stops gracefully on the shutdown token.

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use anyhow::Context as _;
use leadgen_crypto::Sealer;
use leadgen_db::DbPool;
use leadgen_http::JwtVerifier;
use leadgen_http::server::{Readiness, configure, not_found, tracing_middleware};
use leadgen_messaging::Broker;
use leadgen_outbox::Relay;
use leadgen_platforms::Registry;
use leadgen_runtime::Dependencies;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::config::{OAuthSettings, Settings};
use crate::{SERVICE, routes};

/// What the handlers share.
pub struct AppState {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub oauth: OAuthSettings,
}

pub struct Application {
    port: u16,
    server: Server,
    relay: Relay,
    broker: Arc<Broker>,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = leadgen_db::build_pool(&settings.database, SERVICE)?;
        let broker = Broker::connect(&settings.amqp, Vec::new())
            .await
            .context("connecting to the broker")?;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            sealer: leadgen_runtime::sealer(&settings.crypto).context("loading the data key")?,
            platforms: leadgen_runtime::platform_registry(&settings.platforms)?,
            oauth: settings.oauth.clone(),
        });
        let verifier = web::Data::new(JwtVerifier::from_settings(&settings.auth)?);
        let readiness: Arc<dyn Readiness> = Arc::new(Dependencies {
            pool: pool.clone(),
            broker: Some(Arc::clone(&broker)),
        });
        let listener =
            leadgen_http::server::bind(&settings.http).context("binding the HTTP port")?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new()
                .wrap(tracing_middleware())
                .app_data(state.clone())
                .app_data(verifier.clone())
                .configure(configure(Arc::clone(&readiness)))
                .configure(routes::configure)
                .default_service(web::to(not_found))
        })
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(settings.http.shutdown_timeout_secs)
        .run();
        let relay = Relay::new(pool, Arc::clone(&broker), SERVICE, settings.outbox.clone());
        Ok(Application {
            port,
            server,
            relay,
            broker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until `shutdown` fires, then drains requests and the relay's batch.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let relay = tokio::spawn(
            self.relay
                .run(shutdown.clone())
                .instrument(tracing::info_span!("outbox_relay")),
        );
        let served = leadgen_http::server::run_until_stopped(self.server, shutdown.clone()).await;
        shutdown.cancel();
        relay.await.context("outbox relay task")?;
        self.broker.close().await;
        served.context("HTTP server")
    }
}
