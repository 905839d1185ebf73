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

/// A background task started with the shutdown token (the scheduler, for example), and its
/// name in the log when it stops before the process does.
pub struct Background {
    name: &'static str,
    start: Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>,
}

impl Background {
    /// The task `start` makes of the shutdown token; it ends when the token fires.
    pub fn new<F, Fut>(name: &'static str, start: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        Background {
            name,
            start: Box::new(move |token| Box::pin(start(token))),
        }
    }
}

/// Why a process stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    #[error("a task panicked or was aborted: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("{task} panicked or was aborted: {source}")]
    TaskFailed {
        task: &'static str,
        source: tokio::task::JoinError,
    },
    #[error("{0} ended before the process was stopped")]
    TaskEnded(&'static str),
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
        let watch = supervise(
            "dependency_watch",
            tokio::spawn(
                Arc::clone(&self.dependencies).watch(Duration::from_secs(15), shutdown.clone()),
            ),
            shutdown.clone(),
        );
        if !crate::wait_for_schema(&self.dependencies.pool, &shutdown).await {
            watch.await??;
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
            let running = tokio::spawn(
                relay
                    .run(relay_stop.clone())
                    .instrument(tracing::info_span!("outbox_relay")),
            );
            supervise("outbox_relay", running, shutdown.clone())
        });
        for Background { name, start } in self.background {
            tasks.push(supervise(
                name,
                tokio::spawn(start(shutdown.clone())),
                shutdown.clone(),
            ));
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
        // Every part is stopped and waited for, whichever failed: the first failure is the
        // process's error.
        let mut failed = None;
        for task in tasks {
            if let Err(e) = task.await.map_err(RunError::Task).and_then(|ended| ended) {
                failed.get_or_insert(e);
            }
        }
        relay_stop.cancel();
        if let Some(relay) = relay
            && let Err(e) = relay.await.map_err(RunError::Task).and_then(|ended| ended)
        {
            failed.get_or_insert(e);
        }
        if let Some(broker) = &self.broker {
            broker.close().await;
        }
        served??;
        consumed??;
        failed.map_or(Ok(()), Err)
    }
}

/// Waits for `task`. One that ends before `shutdown` fires (it panicked, or its loop returned)
/// stops the process: logged, `shutdown` cancelled, and the run ends with the error (exit
/// non-zero, and Kubernetes restarts the pod). Left alone, the pod would stay live and ready
/// without its scheduler, sweep or relay, and the gauges that task sampled would keep their
/// last value, so no alert would fire.
fn supervise(
    task: &'static str,
    running: tokio::task::JoinHandle<()>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), RunError>> {
    tokio::spawn(async move {
        let ended = running.await;
        let error = match ended {
            Ok(()) if shutdown.is_cancelled() => return Ok(()),
            Ok(()) => RunError::TaskEnded(task),
            Err(source) => RunError::TaskFailed { task, source },
        };
        if !shutdown.is_cancelled() {
            tracing::error!(task, error = %error, "A background task stopped before the process did; stopping the process");
            shutdown.cancel();
        }
        Err(error)
    })
}
