//! A lost connection is replaced at once, not when the slowest handler ends: a handler that
//! acknowledged early and runs on does not keep the consumer from reconnecting, and stopping
//! still waits for it. The connection is force-closed with `rabbitmqctl close_connection` (only
//! this test's: it is named after the prefix). Against the local RabbitMQ, with a prefix of its
//! own.

#![expect(
    clippy::expect_used,
    reason = "a failed step must stop the test at once"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use leadgen_messaging::consumer::{self, ConsumeOptions};
use leadgen_messaging::{Broker, Handler, Incoming, Outcome, OutgoingMessage, QueueSpec};
use leadgen_test_support::TestBroker;
use leadgen_test_support::rabbitmq::close_connections_named;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const NAME: &str = "reconnect";
const ROUTING_KEY: &str = "probe.reconnect.v1";

/// Acknowledges `a` early and holds it until `release`, then notes that it ended; acks
/// everything else at once. Sends every message it starts on.
struct HoldsAfterEarlyAck {
    started: mpsc::UnboundedSender<String>,
    release: CancellationToken,
    a_ended: AtomicBool,
}

#[async_trait::async_trait]
impl Handler for HoldsAfterEarlyAck {
    async fn handle(&self, message: Incoming) -> Outcome {
        let id = message.message_id.clone().unwrap_or_default();
        if id == "a" {
            message.early_ack.ack().await;
            let _ = self.started.send(id);
            self.release.cancelled().await;
            self.a_ended.store(true, Ordering::SeqCst);
        } else {
            let _ = self.started.send(id);
        }
        Outcome::Ack
    }
}

fn probe(id: &str) -> OutgoingMessage {
    OutgoingMessage {
        routing_key: ROUTING_KEY.into(),
        message_id: id.into(),
        payload: b"{}".to_vec(),
        headers: HashMap::new(),
    }
}

/// Publishes, retrying a publish that raced the close notification (the next use reconnects).
async fn publish(broker: &Broker, message: &OutgoingMessage) {
    for _ in 0..3 {
        match broker.publish(message).await {
            Ok(()) => return,
            Err(e) => eprintln!("publish raced the connection loss: {e}"),
        }
    }
    broker.publish(message).await.expect("publish");
}

/// The next message id `started` reports, within 10 s.
async fn next(started: &mut mpsc::UnboundedReceiver<String>, what: &str) -> String {
    tokio::time::timeout(Duration::from_secs(10), started.recv())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .expect("a message")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_is_replaced_while_a_handler_acknowledged_early_runs_on() {
    let spec = QueueSpec {
        consumer: NAME,
        routing_keys: vec![ROUTING_KEY],
    };
    let test = TestBroker::new(vec![spec.clone()]);
    let broker = Broker::connect(&test.settings(), vec![spec])
        .await
        .expect("connect");
    let (started, mut handled) = mpsc::unbounded_channel();
    let release = CancellationToken::new();
    let handler = Arc::new(HoldsAfterEarlyAck {
        started,
        release: release.clone(),
        a_ended: AtomicBool::new(false),
    });
    let cancel = CancellationToken::new();
    let consuming = tokio::spawn(consumer::run(
        Arc::clone(&broker),
        Arc::clone(&handler) as Arc<dyn Handler>,
        ConsumeOptions {
            consumer: NAME,
            prefetch: 1,
            delivery_limit: 5,
            give_up_after: Duration::from_secs(30),
        },
        cancel.clone(),
    ));

    publish(&broker, &probe("a")).await;
    assert_eq!(next(&mut handled, "a").await, "a");
    // `a` is acknowledged and still running when the connection goes.
    assert_eq!(
        close_connections_named(&test.prefix).await,
        1,
        "one connection per process"
    );
    publish(&broker, &probe("b")).await;
    assert_eq!(
        next(&mut handled, "b, handled while a still runs").await,
        "b"
    );
    assert!(!handler.a_ended.load(Ordering::SeqCst), "a still runs");
    // `a` was acknowledged before the loss: it does not come back.
    let again = tokio::time::timeout(Duration::from_secs(1), handled.recv()).await;
    assert!(again.is_err(), "a message came back: {again:?}");
    assert!(!consuming.is_finished(), "consumer::run still running");

    // Stopping waits for `a`, although the session that received it is gone.
    cancel.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !consuming.is_finished(),
        "consumer::run returned while a handler still ran"
    );
    release.cancel();
    tokio::time::timeout(Duration::from_secs(10), consuming)
        .await
        .expect("consumer::run returns once the handler ended")
        .expect("joined")
        .expect("consumed");
    assert!(
        handler.a_ended.load(Ordering::SeqCst),
        "a ended before run returned"
    );
    broker.close().await;
}
