//! Acknowledging a message before its handler ends, for work that outlasts what the broker lets
//! a delivery stay unacknowledged (RabbitMQ's `consumer_timeout`, 30 minutes by default: past
//! it the broker closes the channel and redelivers every message in flight on it, so a long
//! sync would be taken over again and again, and dead-lettered while it still runs).
//!
//! A handler acknowledges early only once something else answers for the message's work (a
//! sync task's claim and lease, which recovery watches); the consumer then settles nothing more
//! for it, whatever the handler returns. The early ack also gives the delivery's place among
//! the consumer's unsettled deliveries back ([`crate::consumer`]): the broker sends the next
//! message, and the consumer handles it at once beside the handler that goes on running.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use lapin::acker::Acker;
use lapin::options::BasicAckOptions;
use tokio::sync::OwnedSemaphorePermit;

/// The early acknowledgement of one delivery; none for a message that did not come from the
/// broker (a test's).
#[derive(Clone, Default)]
pub struct EarlyAck(Option<Arc<Inner>>);

struct Inner {
    acker: Acker,
    queue: String,
    done: AtomicBool,
    /// The delivery's place among its consumer's unsettled deliveries, until it is settled.
    place: Mutex<Option<OwnedSemaphorePermit>>,
}

impl std::fmt::Debug for EarlyAck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarlyAck")
            .field("acked", &self.acked())
            .finish()
    }
}

impl EarlyAck {
    pub(crate) fn new(acker: Acker, queue: &str, place: OwnedSemaphorePermit) -> Self {
        EarlyAck(Some(Arc::new(Inner {
            acker,
            queue: queue.to_owned(),
            done: AtomicBool::new(false),
            place: Mutex::new(Some(place)),
        })))
    }

    /// Acknowledges the delivery now (once; again, or without a delivery, it does nothing).
    /// When the channel is gone the broker redelivers the message, and its handler's ledger and
    /// claim make that safe.
    pub async fn ack(&self) {
        let Some(inner) = &self.0 else {
            return;
        };
        if inner.done.swap(true, Ordering::SeqCst) {
            return;
        }
        match inner.acker.ack(BasicAckOptions::default()).await {
            Ok(()) => {
                metrics::counter!("leadgen_messages_acked_total", "queue" => inner.queue.clone())
                    .increment(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "Could not acknowledge a message early; it will be redelivered");
            }
        }
        self.release();
    }

    /// Gives the delivery's place back, once it is settled (by the consumer or early).
    pub(crate) fn release(&self) {
        if let Some(inner) = &self.0 {
            drop(
                inner
                    .place
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take(),
            );
        }
    }

    /// Whether [`EarlyAck::ack`] was called: the consumer then settles nothing more.
    pub fn acked(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|i| i.done.load(Ordering::SeqCst))
    }
}
