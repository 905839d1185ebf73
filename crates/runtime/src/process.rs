//! [`Process`]: what one service process runs, and the one way it stops. On the shutdown token
//! (SIGTERM/SIGINT, or a consumer that gave up on the broker): the HTTP server stops accepting
//! and drains, the consumer cancels and lets in-flight messages finish, background tasks end;
//! then the outbox relay publishes what all of them wrote and stops, and the broker connection
//! closes last.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use futures::future::BoxFuture;
use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, MessagingError};
use leadgen_outbox::Relay;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// A background task started with the shutdown token (the scheduler, for example).
pub type Background = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// Why a process stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    #[error("a task panicked or was aborted: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("consumer stopped: {0}")]
    Consumer(#[from] MessagingError),
}

/// The parts of one service process.
pub struct Process {
    pub server: Server,
    /// What `/readyz` checks, watched every 15 s (`leadgen_dependency_up`). The relay, the
    /// background tasks and the consumer start once the database holds this build's schema
    /// ([`crate::wait_for_schema`]); the HTTP server (health, readiness, metrics) at once.
    pub dependencies: Arc<crate::Dependencies>,
    pub broker: Option<Arc<Broker>>,
    pub relay: Option<Relay>,
    pub consumer: Option<(Arc<dyn Handler>, ConsumeOptions)>,
    pub background: Vec<Background>,
}

impl Process {
    /// Runs every part until `shutdown` fires, then stops them in order.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), RunError> {
        let served = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                let result =
                    leadgen_http::server::run_until_stopped(self.server, shutdown.clone()).await;
                shutdown.cancel();
                result
            }
        });
        let watch = tokio::spawn(
            Arc::clone(&self.dependencies).watch(Duration::from_secs(15), shutdown.clone()),
        );
        if !crate::wait_for_schema(&self.dependencies.pool, &shutdown).await {
            watch.await?;
            let served = served.await?;
            if let Some(broker) = &self.broker {
                broker.close().await;
            }
            return Ok(served?);
        }
        let mut tasks = vec![watch];
        // The relay outlives the work that writes events: it stops only once the server, the
        // consumer and the background tasks have, so what a drained sync wrote goes out now
        // rather than when a process starts again.
        let relay_stop = CancellationToken::new();
        let relay = self.relay.map(|relay| {
            tokio::spawn(
                relay
                    .run(relay_stop.clone())
                    .instrument(tracing::info_span!("outbox_relay")),
            )
        });
        for start in self.background {
            tasks.push(tokio::spawn(start(shutdown.clone())));
        }
        let consumer = match (self.consumer, &self.broker) {
            (Some((handler, options)), Some(broker)) => Some(tokio::spawn(
                consumer::run(Arc::clone(broker), handler, options, shutdown.clone())
                    .instrument(tracing::info_span!("consumer")),
            )),
            _ => None,
        };
        let served = async { served.await.map_err(RunError::Task) };
        let consumed = async {
            match consumer {
                Some(handle) => {
                    let result = handle.await.map(|r| r.map_err(RunError::Consumer));
                    // A consumer that gave up on the broker stops the whole process (exit non-zero).
                    shutdown.cancel();
                    result
                }
                None => Ok(Ok(())),
            }
        };
        let (served, consumed) = tokio::join!(served, consumed);
        for task in tasks {
            task.await?;
        }
        relay_stop.cancel();
        if let Some(relay) = relay {
            relay.await?;
        }
        if let Some(broker) = &self.broker {
            broker.close().await;
        }
        served??;
        consumed?
    }
}
