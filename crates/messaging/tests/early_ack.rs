//! A handler that acknowledges its message early (its work outlasts the broker's consumer
//! timeout, and something else answers for it) is not settled again: whatever it returns, the
//! message is neither requeued nor dead-lettered, and the channel stays open for the next.
//! Against the local RabbitMQ, with a prefix of its own.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

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

/// A broker of its own with `handler` consuming one queue (prefetch 1), messages `a` and `b`
/// published to it.
struct Consuming {
    broker: Arc<Broker>,
    cancel: CancellationToken,
    consuming: tokio::task::JoinHandle<Result<(), leadgen_messaging::MessagingError>>,
    _test: TestBroker,
}

impl Consuming {
    async fn start(name: &'static str, handler: Arc<dyn Handler>) -> Consuming {
        let spec = QueueSpec {
            consumer: name,
            routing_keys: vec!["probe.early.v1"],
        };
        let test = TestBroker::new(vec![spec.clone()]);
        let broker = Broker::connect(&test.settings(), vec![spec])
            .await
            .expect("connect");
        let cancel = CancellationToken::new();
        let consuming = tokio::spawn(consumer::run(
            Arc::clone(&broker),
            handler,
            ConsumeOptions {
                consumer: name,
                prefetch: 1,
                delivery_limit: 5,
                give_up_after: Duration::from_secs(10),
            },
            cancel.clone(),
        ));
        for id in ["a", "b"] {
            broker
                .publish(&OutgoingMessage {
                    routing_key: "probe.early.v1".into(),
                    message_id: id.into(),
                    payload: b"{}".to_vec(),
                    headers: HashMap::new(),
                })
                .await
                .expect("routed");
        }
        Consuming {
            broker,
            cancel,
            consuming,
            _test: test,
        }
    }

    async fn stop(self) {
        self.cancel.cancel();
        self.consuming.await.expect("joined").expect("consumed");
    }
}

/// The next two message ids `handled` reports.
async fn two(handled: &mut mpsc::UnboundedReceiver<String>) -> Vec<String> {
    let mut ids = Vec::new();
    while ids.len() < 2 {
        let id = tokio::time::timeout(Duration::from_secs(10), handled.recv())
            .await
            .expect("handled in time")
            .expect("a message");
        ids.push(id);
    }
    ids
}

#[tokio::test]
async fn a_message_acknowledged_early_is_not_settled_again() {
    let (seen, mut handled) = mpsc::unbounded_channel();
    let run = Consuming::start("early-ack", Arc::new(AcksEarlyThenFails(seen))).await;
    assert_eq!(two(&mut handled).await, ["a", "b"]);
    // Neither comes back (a requeue would deliver it again at once), and none is dead.
    let again = tokio::time::timeout(Duration::from_secs(2), handled.recv()).await;
    assert!(again.is_err(), "a message came back: {again:?}");
    let depths = run.broker.queue_depths().await.expect("depths");
    for kind in [DepthKind::Ready, DepthKind::DeadLetters] {
        let waiting: u32 = depths
            .iter()
            .filter(|d| d.kind == kind)
            .map(|d| d.messages)
            .sum();
        assert_eq!(waiting, 0, "{kind:?}: {depths:?}");
    }
    run.stop().await;
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
    let (started, mut handled) = mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let handler = AcksEarlyAndHolds {
        started,
        release: Arc::clone(&release),
    };
    let run = Consuming::start("early-ack-beside", Arc::new(handler)).await;
    // b is handled while a still runs.
    assert_eq!(two(&mut handled).await, ["a", "b"]);
    release.notify_one();
    run.stop().await;
}

/// Acknowledges every message early and holds it until `release`; sends every message it
/// starts on.
struct AcksEarlyAndHoldsAll {
    started: mpsc::UnboundedSender<String>,
    release: CancellationToken,
}

#[async_trait::async_trait]
impl Handler for AcksEarlyAndHoldsAll {
    async fn handle(&self, message: Incoming) -> Outcome {
        message.early_ack.ack().await;
        let _ = self
            .started
            .send(message.message_id.clone().unwrap_or_default());
        self.release.cancelled().await;
        Outcome::Ack
    }
}

/// Handlers that acknowledged early and run on take no place: with more of them running than
/// the prefetch (here two, prefetch 1), the next delivery is still handled at once.
#[tokio::test]
async fn handlers_acknowledged_early_do_not_hold_back_the_next_delivery() {
    let (started, mut handled) = mpsc::unbounded_channel();
    let release = CancellationToken::new();
    let handler = AcksEarlyAndHoldsAll {
        started,
        release: release.clone(),
    };
    let run = Consuming::start("early-ack-many", Arc::new(handler)).await;
    assert_eq!(two(&mut handled).await, ["a", "b"]);
    run.broker
        .publish(&OutgoingMessage {
            routing_key: "probe.early.v1".into(),
            message_id: "c".into(),
            payload: b"{}".to_vec(),
            headers: HashMap::new(),
        })
        .await
        .expect("routed");
    let c = tokio::time::timeout(Duration::from_secs(10), handled.recv())
        .await
        .expect("c handled while a and b still run");
    assert_eq!(c.as_deref(), Some("c"));
    release.cancel();
    run.stop().await;
}
