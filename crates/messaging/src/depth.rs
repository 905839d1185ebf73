//! Queue depths as gauges: what waits in a process's own queues, in their dead-letter queues,
//! and among the parked unrouted events. The dead-letter counter says when a message died; only
//! the depth says that it is still there, unreplayed, hours later.
//!
//! Sampled with passive declares (they never create a queue) on a channel of their own, since a
//! passive declare of a missing queue closes its channel; every 15 s with the dependency check.

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;

use crate::broker::{Broker, MessagingError};

/// How long one sample of the depths may take.
pub const DEPTHS_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready messages of one queue, by what the queue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    /// The queue the gauge is labelled with: a consumer's queue (also for its DLQ, so the gauge
    /// joins `leadgen_messages_dead_lettered_total`), or the parked queue's own name.
    pub queue: String,
    pub kind: DepthKind,
    pub messages: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthKind {
    /// Waiting for the consumer (`leadgen_queue_messages`).
    Ready,
    /// In the consumer's dead-letter queue (`leadgen_dead_letter_messages`).
    DeadLetters,
    /// Events no queue was bound for (`leadgen_unrouted_parked_messages`).
    Parked,
}

impl Broker {
    /// The depths of this process's consumed queues, their dead-letter queues and the parked
    /// unrouted events. A queue that does not exist is left out.
    pub async fn queue_depths(&self) -> Result<Vec<Depth>, MessagingError> {
        let topology = self.topology();
        let mut wanted = Vec::new();
        for spec in self.consumed() {
            let queue = topology.queue(spec.consumer);
            wanted.push((queue.clone(), queue.clone(), DepthKind::Ready));
            wanted.push((
                topology.dead_letter_queue(spec.consumer),
                queue,
                DepthKind::DeadLetters,
            ));
        }
        let parked = topology.unrouted_parked();
        wanted.push((parked.clone(), parked, DepthKind::Parked));

        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let mut depths = Vec::with_capacity(wanted.len());
        let mut channel = self.consumer_channel().await?;
        for (name, queue, kind) in wanted {
            match channel
                .queue_declare(&name, passive, FieldTable::default())
                .await
            {
                Ok(declared) => depths.push(Depth {
                    queue,
                    kind,
                    messages: declared.message_count(),
                }),
                // Missing (the channel is closed now): go on with a new one.
                Err(_) => channel = self.consumer_channel().await?,
            }
        }
        let _ = channel.close(200, "depths sampled").await;
        Ok(depths)
    }

    /// Samples [`Broker::queue_depths`] into the gauges within [`DEPTHS_WITHIN`]; nothing when
    /// the broker cannot answer in time (the gauges keep their last values, beside
    /// `leadgen_dependency_up{dependency="broker"}`). Bounded as a whole: a connection the
    /// broker starts blocking mid-sample stops answering, and a readiness probe gives up after
    /// 3 s.
    pub async fn record_queue_depths(&self) {
        let depths = match tokio::time::timeout(DEPTHS_WITHIN, self.queue_depths()).await {
            Ok(Ok(depths)) => depths,
            // Said, since the gauges keep their last values and the alerts read them.
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Sampling queue depths failed; the gauges keep their last values");
                return;
            }
            Err(_) => {
                tracing::warn!(
                    within_ms = DEPTHS_WITHIN.as_millis() as u64,
                    "Sampling queue depths timed out; the gauges keep their last values"
                );
                return;
            }
        };
        for depth in depths {
            let name = match depth.kind {
                DepthKind::Ready => "leadgen_queue_messages",
                DepthKind::DeadLetters => "leadgen_dead_letter_messages",
                DepthKind::Parked => "leadgen_unrouted_parked_messages",
            };
            metrics::gauge!(name, "queue" => depth.queue).set(f64::from(depth.messages));
        }
    }
}
