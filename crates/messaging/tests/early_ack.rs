//! A handler that acknowledges its message early (its work outlasts the broker's consumer
//! timeout, and something else answers for it) is not settled again: whatever it returns, the
//! message is neither requeued nor dead-lettered, and the channel stays open for the next.
//! Against the local RabbitMQ, with a prefix of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::depth::DepthKind;
use leadgen_messaging::{Broker, Handler, Incoming, Outcome, OutgoingMessage, QueueSpec};
use leadgen_test_support::TestBroker;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Acknowledges each message early, then fails it (`a` for good, `b` for now): a failure after
/// an early ack is the work's owner's to handle, not the broker's.
struct AcksEarlyThenFails(mpsc::UnboundedSender<String>);

#[async_trait::async_trait]
impl Handler for AcksEarlyThenFails {
    async fn handle(&self, message: Incoming) -> Outcome {
        message.early_ack.ack().await;
        message.early_ack.ack().await; // again: nothing more happens
        let id = message.message_id.clone().unwrap_or_default();
        let _ = self.0.send(id.clone());
        if id == "a" {
            Outcome::Reject("refused after it was acknowledged".into())
        } else {
            Outcome::Retry("failed after it was acknowledged".into())
        }
    }
}

#[tokio::test]
async fn a_message_acknowledged_early_is_not_settled_again() {
    let spec = QueueSpec {
        consumer: "early-ack",
        routing_keys: vec!["probe.acked.v1"],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Arc::new(
        Broker::connect(&test.settings(), vec![spec])
            .await
            .expect("connect"),
    );
    let (seen, mut handled) = mpsc::unbounded_channel();
    let cancel = CancellationToken::new();
    let consuming = tokio::spawn(consumer::run(
        Arc::clone(&broker),
        Arc::new(AcksEarlyThenFails(seen)),
        ConsumeOptions {
            consumer: "early-ack",
            prefetch: 1,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(10),
        },
        cancel.clone(),
    ));
    for id in ["a", "b"] {
        broker
            .publish(&OutgoingMessage {
                routing_key: "probe.acked.v1".into(),
                message_id: id.into(),
                payload: b"{}".to_vec(),
                headers: HashMap::new(),
            })
            .await
            .expect("routed");
    }
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let id = tokio::time::timeout(Duration::from_secs(10), handled.recv())
            .await
            .expect("handled in time")
            .expect("a message");
        ids.push(id);
    }
    // Neither comes back (a requeue would deliver it again at once), and none is dead.
    let again = tokio::time::timeout(Duration::from_secs(2), handled.recv()).await;
    assert!(again.is_err(), "a message came back: {again:?}");
    assert_eq!(ids, ["a", "b"]);
    let depths = broker.queue_depths().await.expect("depths");
    for kind in [DepthKind::Ready, DepthKind::DeadLetters] {
        let waiting: u32 = depths
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.messages)
            .sum();
        assert_eq!(waiting, 0, "{kind:?}: {depths:?}");
    }
    cancel.cancel();
    consuming.await.expect("joined").expect("consumed");
}

/// Holds `a` (acknowledged early) until told; sends every message it starts on.
struct AcksEarlyAndHolds {
    started: mpsc::UnboundedSender<String>,
    release: Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl Handler for AcksEarlyAndHolds {
    async fn handle(&self, message: Incoming) -> Outcome {
        let id = message.message_id.clone().unwrap_or_default();
        let _ = self.started.send(id.clone());
        if id == "a" {
            message.early_ack.ack().await;
            self.release.notified().await;
        }
        Outcome::Ack
    }
}

/// The delivery the broker sends in place of one acknowledged early is handled while that one
/// still runs, not queued behind it (where the broker's consumer timeout would run out).
#[tokio::test]
async fn the_delivery_after_an_early_ack_is_handled_beside_it() {
    let spec = QueueSpec {
        consumer: "early-ack-beside",
        routing_keys: vec!["probe.beside.v1"],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Arc::new(
        Broker::connect(&test.settings(), vec![spec])
            .await
            .expect("connect"),
    );
    let (started, mut handled) = mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let cancel = CancellationToken::new();
    let consuming = tokio::spawn(consumer::run(
        Arc::clone(&broker),
        Arc::new(AcksEarlyAndHolds {
            started,
            release: Arc::clone(&release),
        }),
        ConsumeOptions {
            consumer: "early-ack-beside",
            prefetch: 1,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(10),
        },
        cancel.clone(),
    ));
    for id in ["a", "b"] {
        broker
            .publish(&OutgoingMessage {
                routing_key: "probe.beside.v1".into(),
                message_id: id.into(),
                payload: b"{}".to_vec(),
                headers: HashMap::new(),
            })
            .await
            .expect("routed");
    }
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let id = tokio::time::timeout(Duration::from_secs(10), handled.recv())
            .await
            .expect("b is handled while a still runs")
            .expect("a message");
        ids.push(id);
    }
    assert_eq!(ids, ["a", "b"]);
    release.notify_one();
    cancel.cancel();
    consuming.await.expect("joined").expect("consumed");
}
