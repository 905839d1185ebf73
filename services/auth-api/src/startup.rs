//! [`Application`]: built from settings, owns its bound listener (port `0` in tests), the outbox
//! relay and the broker connection; stops gracefully on the shutdown token.

use std::sync::Arc;

use actix_web::web;
use anyhow::Context as _;
use leadgen_crypto::Sealer;
use leadgen_db::DbPool;
use leadgen_http::JwtVerifier;
use leadgen_http::server::Readiness;
use leadgen_messaging::Broker;
use leadgen_outbox::Relay;
use leadgen_platforms::Registry;
use leadgen_runtime::{Background, Dependencies, Process};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::config::{OAuthSettings, Settings, ShopSettings};
use crate::{SERVICE, routes};

/// What the handlers share.
pub struct AppState {
    pub pool: DbPool,
    pub sealer: Arc<Sealer>,
    pub platforms: Registry,
    pub oauth: OAuthSettings,
    pub shops: ShopSettings,
}

pub struct Application {
    port: u16,
    process: Process,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        if settings.oauth.bind_state_to_browser
            && !settings.oauth.allowed_callback_origins.is_empty()
        {
            // The consent cookie belongs to the host the browser called POST /platforms/auth
            // on: a callback on another host never receives it (40002).
            tracing::warn!(
                origins = ?settings.oauth.allowed_callback_origins,
                "Consents are bound to the browser: a callback on another host than the API's \
                 is refused unless the browser sends it the consent cookie"
            );
        }
        if !settings.oauth.bind_state_to_browser {
            // Off in a local run (local.toml); anywhere else a consent link forwarded to another
            // merchant would connect their shop to this tenant.
            tracing::warn!(
                "Consents are not bound to the browser that asked ([oauth] \
                 bind_state_to_browser = false): turn it on outside local runs"
            );
        }
        let pool = leadgen_db::build_pool(&settings.database, SERVICE)?;
        let broker = Broker::connect_or_later(&settings.amqp).await;
        let state = web::Data::new(AppState {
            pool: pool.clone(),
            sealer: leadgen_runtime::sealer(&settings.crypto).context("loading the data key")?,
            platforms: leadgen_runtime::platform_registry(&settings.platforms, &pool)?,
            oauth: settings.oauth.clone(),
            shops: settings.shops.clone(),
        });
        let verifier = web::Data::new(JwtVerifier::from_settings(&settings.auth)?);
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
        let abandoned = crate::service::abandoned::AbandonedConsents {
            pool: pool.clone(),
            ttl: chrono::Duration::minutes(settings.oauth.state_ttl_minutes),
            every: std::time::Duration::from_secs(60),
        };
        let background: Vec<Background> =
            vec![Background::new("abandoned_consents", move |token| {
                abandoned
                    .run(token)
                    .instrument(tracing::info_span!("abandoned_consents"))
            })];
        let process = Process {
            server,
            dependencies,
            broker: Some(broker),
            relay: Some(relay),
            consumer: None,
            background,
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

    /// Serves until `shutdown` fires, then drains requests and the relay's batch.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        Ok(self.process.run_until_stopped(shutdown).await?)
    }
}
